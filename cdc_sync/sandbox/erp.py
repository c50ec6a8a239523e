"""ERP sandbox: for now, the receiver of cdc-sync's generic signed-webhook destination.

`POST /hooks/{name}` accepts Standard Webhooks-signed JSON; the `webhook-id` is the
idempotency key, so a redelivered message is one effect.
"""

import time
from dataclasses import dataclass, field
from http import HTTPStatus
from random import Random
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdc_sync.sandbox import emit
from cdc_sync.sandbox.control import CONTROL_PREFIX
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, sandbox_app
from cdc_sync.sandbox.recorder import Incoming
from cdc_sync.signing import InvalidSignature, verify

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

ERROR_MESSAGES = {401: "invalid signature"}


def erp_error(status: int, detail: str) -> Response:
    message = ERROR_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
    return JSONResponse({"error": message, "detail": detail}, status_code=status)


@dataclass
class HookInbox:
    hooks: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.hooks.clear()


def signature_guard(secret: str, clock: Clock) -> Guard:
    def guard(incoming: Incoming) -> Response | None:
        try:
            verify(secret, incoming.headers, incoming.body, now=clock())
        except InvalidSignature as exc:
            return erp_error(401, str(exc))
        return None

    return guard


class ErpEndpoints:
    def __init__(self, inbox: HookInbox) -> None:
        self.inbox = inbox

    def routes(self) -> list[Route]:
        return [Route("/hooks/{name}", self.receive_hook, methods=["POST"])]

    def control_routes(self) -> list[Route]:
        return [Route(f"{CONTROL_PREFIX}hooks", self.hooks, methods=["GET"])]

    async def receive_hook(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return erp_error(400, "the webhook body must be JSON")
        entry = {
            "name": request.path_params["name"],
            "webhook_id": request.headers["webhook-id"],
            "body": body,
        }
        self.inbox.hooks.append(entry)
        return Response(status_code=204)

    async def hooks(self, request: Request) -> Response:
        return JSONResponse({"hooks": self.inbox.hooks})


def create_erp_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    endpoints = ErpEndpoints(HookInbox())
    vendor = VendorProfile(
        routes=endpoints.routes(),
        state=endpoints.inbox,
        error=erp_error,
        guard=signature_guard(settings.erp_webhook_secret, clock),
        idempotency_header="webhook-id",
        control_routes=[
            *endpoints.control_routes(),
            emit_route(emit.standard_webhooks(settings.erp_webhook_secret)),
        ],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock)
