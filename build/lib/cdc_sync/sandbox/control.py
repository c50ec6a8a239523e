"""The `/_sandbox/*` routes every sandbox app shares: faults, request log, effects, reset and the
notification sink. They are never faulted nor recorded."""

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.faults import FaultInjector, Faults
from cdc_sync.sandbox.recorder import Recorder, decoded_body

CONTROL_PREFIX = "/_sandbox/"
TRUE_WORDS = frozenset({"true", "1", "yes"})


class VendorState(Protocol):
    def clear(self) -> None: ...


class StateGroup:
    """Several pieces of vendor state reset together."""

    def __init__(self, *states: VendorState) -> None:
        self.states = states

    def clear(self) -> None:
        for state in self.states:
            state.clear()


@dataclass(frozen=True)
class Sandbox:
    """Everything one sandbox app keeps besides its routes."""

    injector: FaultInjector
    recorder: Recorder
    vendor_state: VendorState

    def reset(self) -> None:
        self.vendor_state.clear()
        self.recorder.clear()
        self.injector.restore()


def invalid(message: str, problems: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "problems": problems or []}, status_code=422)


def validation_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    ]


class ControlEndpoints:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[Route]:
        return [
            Route(f"{CONTROL_PREFIX}faults", self.get_faults, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}faults", self.put_faults, methods=["PUT"]),
            Route(f"{CONTROL_PREFIX}requests", self.requests, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}effects", self.effects, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}reset", self.reset, methods=["POST"]),
            Route(f"{CONTROL_PREFIX}notify", self.notify, methods=["POST"]),
            Route(f"{CONTROL_PREFIX}notifications", self.notifications, methods=["GET"]),
        ]

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.injector.faults.model_dump())

    async def put_faults(self, request: Request) -> Response:
        body = decoded_body(await request.body())
        if not isinstance(body, dict):
            return invalid("faults must be a JSON object", [f"got {type(body).__name__}"])
        try:
            faults = Faults.model_validate(body)
        except ValidationError as exc:
            return invalid("invalid faults", validation_problems(exc))
        self.sandbox.injector.faults = faults
        return JSONResponse(faults.model_dump())

    async def requests(self, request: Request) -> Response:
        since = request.query_params.get("since", "0")
        if not (since.isascii() and since.isdigit()):
            return invalid("since must be a non-negative integer", [f"since: {since!r}"])
        recorder = self.sandbox.recorder
        return FastJSONResponse({"requests": recorder.since(int(since)), "total": recorder.log.total})

    async def effects(self, request: Request) -> Response:
        """Every key's count, or with `summary=true` only the figures a large benchmark checks."""
        effects = self.sandbox.recorder.effects
        wants_summary = request.query_params.get("summary", "").lower() in TRUE_WORDS
        return FastJSONResponse(effects.summary() if wants_summary else effects.as_json())

    async def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return Response(status_code=204)

    async def notify(self, request: Request) -> Response:
        notification: Any = decoded_body(await request.body())
        self.sandbox.recorder.notifications.append(notification)
        return Response(status_code=204)

    async def notifications(self, request: Request) -> Response:
        return JSONResponse({"notifications": self.sandbox.recorder.notifications})
