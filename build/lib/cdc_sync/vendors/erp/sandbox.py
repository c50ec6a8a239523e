"""ERP sandbox: for now, the receiver of cdc-sync's generic signed-webhook destination.

`POST /hooks/{name}` accepts Standard Webhooks-signed JSON; the `webhook-id` is the
idempotency key, so a redelivered message is one effect.
"""

import base64
import time
from collections import deque
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
from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.control import CONTROL_PREFIX
from cdc_sync.sandbox.effects import ITEM_KEYS_HEADER, BadItemKeys, EffectLedger, item_keys, request_target
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, sandbox_app
from cdc_sync.sandbox.recorder import Incoming, recorder_for
from cdc_sync.signing import InvalidSignature, verify
from cdc_sync.vendors.options import VendorOptions

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

DEFAULT_ERP_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"sandbox-erp-webhook-secret-0001").decode()

ERROR_MESSAGES = {401: "invalid signature"}
RECEIVED_OUTCOME = "received"
RECEIVED = frozenset({RECEIVED_OUTCOME})


def erp_error(status: int, detail: str) -> Response:
    message = ERROR_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
    return JSONResponse({"error": message, "detail": detail}, status_code=status)


@dataclass
class HookInbox:
    limit: int
    hooks: deque[dict[str, Any]] = field(init=False)  # the newest `limit` hooks

    def __post_init__(self) -> None:
        self.hooks = deque(maxlen=self.limit)

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


def batch_item_keys(request: Request, body: Any) -> list[str | None]:
    """The per-event keys of a batch (`{"type": "batch", "events": [...]}` sent with
    `X-Item-Idempotency-Keys`); none for a single event, which counts under its `webhook-id`."""
    events = body.get("events") if isinstance(body, dict) and body.get("type") == "batch" else None
    if not isinstance(events, list) or ITEM_KEYS_HEADER not in request.headers:
        return []
    return item_keys(request, len(events))


class ErpEndpoints:
    def __init__(self, inbox: HookInbox, ledger: EffectLedger) -> None:
        self.inbox = inbox
        self.ledger = ledger

    def routes(self) -> list[Route]:
        return [Route("/hooks/{name}", self.receive_hook, methods=["POST"])]

    def control_routes(self) -> list[Route]:
        return [Route(f"{CONTROL_PREFIX}hooks", self.hooks, methods=["GET"])]

    async def receive_hook(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            keys = batch_item_keys(request, body)
        except orjson.JSONDecodeError:
            return erp_error(400, "the webhook body must be JSON")
        except BadItemKeys as exc:
            return erp_error(400, str(exc))
        entry = {
            "name": request.path_params["name"],
            "webhook_id": request.headers["webhook-id"],
            "body": body,
        }
        self.inbox.hooks.append(entry)
        for key in keys:  # a batch's events that took effect in an earlier delivery count once
            if self.ledger.answer(key, RECEIVED) is None:
                self.ledger.item_applied(key, request_target(request), (RECEIVED_OUTCOME, b""))
        return Response(status_code=204)

    async def hooks(self, request: Request) -> Response:
        return FastJSONResponse({"hooks": list(self.inbox.hooks)})


class ErpSandboxSettings(VendorOptions):
    """The ERP sandbox's own settings (flat keys of `SandboxSettings`)."""

    erp_webhook_secret: str = DEFAULT_ERP_WEBHOOK_SECRET  # verifies hooks from cdc-sync, signs emitted ones


def create_erp_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    own = ErpSandboxSettings.of(settings)
    recorder = recorder_for(settings, clock)
    endpoints = ErpEndpoints(HookInbox(settings.request_log_limit), recorder.effects)
    vendor = VendorProfile(
        routes=endpoints.routes(),
        state=endpoints.inbox,
        error=erp_error,
        guard=signature_guard(own.erp_webhook_secret, clock),
        idempotency_header="webhook-id",
        control_routes=[
            *endpoints.control_routes(),
            emit_route(emit.standard_webhooks(own.erp_webhook_secret)),
        ],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock, recorder)
