"""Call-center sandbox (port 9104): agents (`GET /v1/agents?cursor=`), dial batches
(`POST /v1/dial-batches`, 202 with the accepted count, once per batch_id + task_id), call detail
(`GET /v1/calls/{id}`) and signed recording links (`POST /v1/recordings/{id}/link`), behind a
Bearer token; it emits its webhooks signed with Standard Webhooks, and on `POST
/_sandbox/dial-results` dials what it queued, reporting each result by webhook. The state is in
`sandbox_state`."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from random import Random
from typing import TYPE_CHECKING, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox import emit
from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.control import CONTROL_PREFIX, validation_problems
from cdc_sync.sandbox.effects import BadItemKeys, EffectLedger, item_keys, request_target
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, sandbox_app, secret_matches
from cdc_sync.sandbox.recorder import Incoming, recorder_for
from cdc_sync.vendors.callcenter.sandbox_state import (
    AgentSeeds,
    BadCursor,
    CallCenter,
    CallSeeds,
    DialBatch,
    DialResultsOrder,
    DialTask,
    NotFound,
)
from cdc_sync.vendors.options import VendorOptions

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

DEFAULT_CALLCENTER_WEBHOOK_SECRET = "whsec_c2FuZGJveC1jYWxsY2VudGVyLXdlYmhvb2stc2VjcmV0"
ACCEPTED = "accepted"
DIALLERS = 8  # results reported at once
Endpoint = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def callcenter_error(status: int, detail: str) -> Response:
    code = HTTPStatus(status).phrase.lower().replace(" ", "_")
    return FastJSONResponse({"error": {"code": code, "message": detail or code}}, status_code=status)


def refusing(endpoint: Endpoint) -> Endpoint:
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ValidationError as exc:
            return callcenter_error(422, "; ".join(validation_problems(exc)))
        except NotFound as exc:
            return callcenter_error(404, str(exc))
        except (BadCursor, BadItemKeys) as exc:
            return callcenter_error(400, str(exc))

    return answer


def bearer_guard(api_token: str) -> Guard:
    def guard(incoming: Incoming) -> Response | None:
        scheme, _, token = incoming.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secret_matches(token.strip(), api_token):
            return None
        return callcenter_error(401, "a valid Bearer token is required")

    return guard


def parsed(model: type[M], raw: bytes) -> M:
    return model.model_validate_json(raw or b"{}")


class CallCenterEndpoints:
    def __init__(self, center: CallCenter, ledger: EffectLedger, clock: Clock, signer: emit.Encoder) -> None:
        self.center = center
        self.ledger = ledger
        self.clock = clock
        self.signer = signer

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/v1/agents", "GET", self.agents),
            ("/v1/dial-batches", "POST", self.dial_batch),
            ("/v1/calls/{call_id}", "GET", self.call),
            ("/v1/recordings/{call_id}/link", "POST", self.recording_link),
        ]
        return [Route(path, refusing(endpoint), methods=[method]) for path, method, endpoint in table]

    def control_routes(self) -> list[Route]:
        return [
            Route(f"{CONTROL_PREFIX}agents", refusing(self.seed_agents), methods=["POST"]),
            Route(f"{CONTROL_PREFIX}calls", refusing(self.seed_calls), methods=["POST"]),
            Route(f"{CONTROL_PREFIX}dial-tasks", self.dial_tasks, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}dial-results", refusing(self.dial_results), methods=["POST"]),
        ]

    async def agents(self, request: Request) -> Response:
        params = request.query_params
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 50
        agents, next_cursor = self.center.agent_page(params.get("cursor"), limit)
        return FastJSONResponse({"agents": [a.model_dump() for a in agents], "next_cursor": next_cursor})

    async def dial_batch(self, request: Request) -> Response:
        batch = parsed(DialBatch, await request.body())
        keys = item_keys(request, len(batch.tasks))
        queued = 0
        for task, key in zip(batch.tasks, keys, strict=True):
            if self.center.take(batch, task):
                queued += 1
                self.ledger.item_applied(
                    key, request_target(request), (ACCEPTED, task.model_dump_json().encode())
                )
        body = {"batch_id": batch.batch_id, "accepted": len(batch.tasks), "queued": queued}
        return FastJSONResponse(body, status_code=202)

    async def call(self, request: Request) -> Response:
        return FastJSONResponse({"call": self.center.call(request.path_params["call_id"])})

    async def recording_link(self, request: Request) -> Response:
        now = datetime.fromtimestamp(self.clock(), UTC)
        return FastJSONResponse(self.center.recording_link(request.path_params["call_id"], now))

    async def seed_agents(self, request: Request) -> Response:
        self.center.agents.extend(parsed(AgentSeeds, await request.body()).agents)
        return FastJSONResponse({"agents": len(self.center.agents)}, status_code=201)

    async def seed_calls(self, request: Request) -> Response:
        calls = parsed(CallSeeds, await request.body()).calls
        if any(not isinstance(call.get("call_id"), str) for call in calls):
            return callcenter_error(422, "every call needs a call_id")
        self.center.calls.update({call["call_id"]: call for call in calls})
        return FastJSONResponse({"calls": len(self.center.calls)}, status_code=201)

    async def dial_tasks(self, request: Request) -> Response:
        tasks = [{"batch_id": batch, **task.model_dump()} for (batch, _), task in self.center.tasks.items()]
        return FastJSONResponse({"tasks": tasks})

    async def dial_results(self, request: Request) -> Response:
        """Dial what is queued: each result goes to the target as its signed webhook (8 at a time)."""
        order = parsed(DialResultsOrder, await request.body())
        now, gate = datetime.fromtimestamp(self.clock(), UTC), asyncio.Semaphore(DIALLERS)
        statuses: Counter[str] = Counter()

        async def report(client: httpx.AsyncClient, batch: str, task: DialTask) -> None:
            code = order.results.get(task.task_id, order.result_code)
            async with gate:
                try:
                    answer = await emit.send_signed(
                        client, self.signer, self.center.dial_result(batch, task, code, now), order.target
                    )
                except httpx.HTTPError:
                    statuses["unreachable"] += 1  # dialled again by the next order
                    return
            statuses[str(answer.status_code)] += 1
            if answer.is_success:
                self.center.dialled.add((batch, task.task_id))

        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(report(client, b, t) for b, t in self.center.undialled()))
        return FastJSONResponse({"sent": sum(statuses.values()), "statuses": dict(statuses)})


class CallCenterSandboxSettings(VendorOptions):
    """The call-center sandbox's own settings (flat keys of `SandboxSettings`)."""

    callcenter_api_token: str = "sandbox-callcenter-token"
    # What it signs webhooks to cdc-sync with (`ops/stack.sh env` gives cdc-sync the same).
    callcenter_webhook_secret: str = DEFAULT_CALLCENTER_WEBHOOK_SECRET


def create_callcenter_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    own = CallCenterSandboxSettings.of(settings)
    recorder = recorder_for(settings, clock)
    center = CallCenter(link_secret=own.callcenter_api_token.encode())
    signer = emit.standard_webhooks(own.callcenter_webhook_secret)
    endpoints = CallCenterEndpoints(center, recorder.effects, clock, signer)
    vendor = VendorProfile(
        routes=endpoints.routes(),
        state=center,
        error=callcenter_error,
        guard=bearer_guard(own.callcenter_api_token),
        control_routes=[
            *endpoints.control_routes(),
            emit_route(signer),
        ],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock, recorder)
