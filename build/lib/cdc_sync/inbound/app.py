"""The inbound webhook front door (FastAPI): size → content type → signature → payload → inbox → answer.

A 2xx goes out only after the inbox committed the event, so a vendor never sees success for an event
we could still lose. A refusal is a 4xx with a readable reason; whatever we cannot do right now is a
503 with Retry-After so the vendor retries instead of dropping. No input yields a 500: every step
refuses with a known exception, and `LastResort` turns anything unforeseen into a 503.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cdc_sync.errors import CdcSyncError, ConfigError, RejectedEvent, SignatureInvalid, StackUnavailable
from cdc_sync.inbound.payloads import BadPayload, PayloadProblem
from cdc_sync.inbound.sources import FORMATS, build_verifier, check_media_type, parse
from cdc_sync.inbound.verifiers import Verifier
from cdc_sync.model.config import SourceConfig
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.observability.metrics import WEBHOOK_SIGNATURE_FAILURES, WEBHOOKS

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 30
# Senders that check the URL with a GET before using it (a marketing platform's list webhooks).
URL_CHECKED_SCHEMES: frozenset[str] = frozenset({"url_secret"})
_MAX_LENGTH_DIGITS = 18  # int() refuses over 4300 digits; anything this long is too large anyway

Outcome = Literal[
    "accepted",
    "duplicate",
    "unknown_source",
    "method_not_allowed",
    "too_large",
    "unsupported_media_type",
    "invalid_signature",
    "forbidden",
    "malformed",
    "invalid",
    "disconnected",
    "unavailable",
]
Stored = Literal["accepted", "duplicate"]
Admission = Callable[[InboundEvent], str | None]

REFUSALS: dict[Outcome, tuple[int, str]] = {
    "unknown_source": (404, "unknown source"),
    "method_not_allowed": (405, "method not allowed"),
    "too_large": (413, "payload too large"),
    "unsupported_media_type": (415, "unsupported media type"),
    "invalid_signature": (401, "invalid signature"),
    "forbidden": (403, "forbidden"),
    "malformed": (400, "malformed payload"),
    "invalid": (422, "invalid payload"),
    "disconnected": (400, "client disconnected"),
    "unavailable": (503, "unavailable"),
}
REFUSAL_HEADERS: dict[Outcome, dict[str, str]] = {
    "method_not_allowed": {"Allow": "POST"},
    "unavailable": {"Retry-After": str(RETRY_AFTER_S)},
}
# Refusals that raise an alert, and its kind: a forged request, or a signed one for an account
# that is not ours.
REJECTION_ALERTS: dict[Outcome, str] = {
    "invalid_signature": "webhook_signature",
    "forbidden": "webhook_forbidden",
}
# Reasons a vendor may read; an internal failure's own message stays in our log.
PUBLIC_DETAILS: dict[Outcome, str] = {"unavailable": "cannot store events right now; retry later"}
PROBLEM_OUTCOMES: dict[PayloadProblem, Outcome] = {
    "media_type": "unsupported_media_type",
    "syntax": "malformed",
    "model": "invalid",
}
EXCEPTION_OUTCOMES: dict[type[Exception], Outcome] = {
    SignatureInvalid: "invalid_signature",
    RejectedEvent: "invalid",
    StackUnavailable: "unavailable",
    ClientDisconnect: "disconnected",
}


class Inbox(Protocol):
    async def put(self, event: InboundEvent) -> bool:
        """Commit the event; True if new, False if already stored. May raise StackUnavailable."""
        ...


class Receipt(BaseModel):
    status: Stored
    event_id: str


class Problem(BaseModel):
    error: str
    detail: str


class Refused(CdcSyncError):
    """The front door's own refusals (unknown source, too large, wrong method); never leaves this module."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: Outcome = outcome


def _outcome_of(exc: Exception) -> Outcome:
    if isinstance(exc, Refused):
        return exc.outcome
    if isinstance(exc, BadPayload):
        return PROBLEM_OUTCOMES[exc.problem]
    kinds = [outcome for kind, outcome in EXCEPTION_OUTCOMES.items() if isinstance(exc, kind)]
    return kinds[0] if kinds else "unavailable"


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "").strip()
    if not (declared.isascii() and declared.isdigit()):
        return  # absent or garbage: the capped read below still holds the line
    if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > limit:
        raise Refused("too_large", f"declared body exceeds {limit} bytes")


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, read no further than one byte past `limit` (a lying Content-Length gains nothing)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused("too_large", f"body exceeds {limit} bytes")
    return bytes(body)


@dataclass(frozen=True)
class FrontDoor:
    sources: Mapping[str, SourceConfig]
    verifiers: Mapping[str, Verifier]
    inbox: Inbox
    on_rejected: Callable[[str, str, str], Awaitable[None]]  # (source, alert kind, reason)
    ready: Callable[[], Awaitable[bool]]
    clock: Callable[[], float]
    # Per source: why a well-signed event is still not taken (another vendor account's), or None.
    admissions: Mapping[str, Admission] = field(default_factory=dict)

    def _config(self, source: str) -> SourceConfig:
        if source not in self.sources:
            raise Refused("unknown_source", "no webhook source by that name")
        return self.sources[source]

    async def receive(self, source: str, request: Request) -> Response:
        config = self._config(source)
        _check_declared_length(request, config.max_body_bytes)
        content_type = request.headers.get("content-type", "")
        check_media_type(source, content_type)
        body = await _read_capped(request, config.max_body_bytes)
        self.verifiers[source].verify(request.headers, body, request.query_params, self.clock())
        event = parse(source, content_type, body)
        refusal = self.admissions[source](event) if source in self.admissions else None
        if refusal is not None:
            raise Refused("forbidden", refusal)
        stored: Stored = "accepted" if await self.inbox.put(event) else "duplicate"
        WEBHOOKS.labels(source, stored).inc()
        return JSONResponse(Receipt(status=stored, event_id=event.event_id).model_dump())

    async def check_url(self, source: str, request: Request) -> Response:
        """Answer a sender's GET check of its webhook URL (only for senders that do one)."""
        if self._config(source).scheme not in URL_CHECKED_SCHEMES:
            raise Refused("method_not_allowed", f"{source} webhooks are POSTed")
        self.verifiers[source].verify(request.headers, b"", request.query_params, self.clock())
        return JSONResponse({})

    async def refuse(self, request: Request, exc: Exception) -> Response:
        """The one exception handler: count, alert on a bad signature, answer with a readable reason."""
        outcome, source = _outcome_of(exc), request.path_params.get("source", "")
        if source in self.sources:
            WEBHOOKS.labels(source, outcome).inc()
        if outcome == "invalid_signature":
            WEBHOOK_SIGNATURE_FAILURES.labels(source).inc()
        if outcome in REJECTION_ALERTS:
            await self._alerted(source, REJECTION_ALERTS[outcome], str(exc))
        if outcome in PUBLIC_DETAILS:
            logger.warning("webhook %s refused as %s: %s", source, outcome, exc)
        status, error = REFUSALS[outcome]
        body = Problem(error=error, detail=PUBLIC_DETAILS.get(outcome, str(exc)))
        return JSONResponse(body.model_dump(), status_code=status, headers=REFUSAL_HEADERS.get(outcome))

    async def _alerted(self, source: str, kind: str, reason: str) -> None:
        try:
            await self.on_rejected(source, kind, reason)
        except Exception:  # a failing alert sink must not turn the refusal into a 5xx
            logger.exception("alerting on a refused %s webhook failed", source)

    async def readyz(self) -> Response:
        ready = await self.ready()
        return JSONResponse({"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503)


class LastResort:
    """Turns an exception no handler took into a 503 (retry later) instead of a 500, and logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started or scope["type"] != "http":
                raise
            logger.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            detail = PUBLIC_DETAILS["unavailable"]
            body = Problem(error="unavailable", detail=detail).model_dump()
            await JSONResponse(body, 503, headers=REFUSAL_HEADERS["unavailable"])(scope, receive, send)


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


RECEIVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Receipt,
        "description": "Committed to the inbox (accepted) or committed before (duplicate)",
    },
    400: _problem("The body is not well-formed JSON or url-encoded form data"),
    401: _problem("Forged, stale or unsigned"),
    404: _problem("No webhook source by that name"),
    413: _problem("The body is larger than the source allows"),
    415: _problem("Wrong content type for the source"),
    422: _problem("The payload does not match the vendor's event model"),
    503: _problem("Cannot store events right now; retry after Retry-After seconds"),
}
CHECK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The URL and its secret are right"},
    401: _problem("Missing or wrong secret query parameter"),
    404: _problem("No webhook source by that name"),
    405: _problem("This source does not check its URL with GET"),
}
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }
}


async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


def _routed(app: FastAPI, door: FrontDoor) -> FastAPI:
    webhook = "/webhooks/{source}"
    app.add_api_route(
        webhook, door.receive, methods=["POST"], responses=RECEIVE_RESPONSES, openapi_extra=REQUEST_BODY
    )
    app.add_api_route(webhook, door.check_url, methods=["GET"], responses=CHECK_RESPONSES)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", door.readyz, methods=["GET"], responses={503: {"description": "Not ready"}})
    return app


def _served(sources: Mapping[str, SourceConfig]) -> dict[str, SourceConfig]:
    """The sources to serve: optional ones only once their secret is set."""
    for name, config in sources.items():
        if config.optional and not config.configured():
            logger.warning("webhook source %s is off until %s is set", name, config.secret_envs[0])
    return {name: config for name, config in sources.items() if not config.optional or config.configured()}


def create_app(
    sources: Mapping[str, SourceConfig],
    inbox: Inbox,
    *,
    on_rejected: Callable[[str, str, str], Awaitable[None]],
    ready: Callable[[], Awaitable[bool]],
    clock: Callable[[], float] = time.time,
    admissions: Mapping[str, Admission] | None = None,
    openapi: bool = False,
) -> FastAPI:
    """The webhook app. Reads every source's secrets now: ConfigError if one has none or no parser."""
    unparsed = sorted(set(sources) - set(FORMATS))
    if unparsed:
        raise ConfigError(f"no payload format for webhook sources {unparsed}; known: {sorted(FORMATS)}")
    sources = _served(sources)
    verifiers = {name: build_verifier(config) for name, config in sources.items()}
    door = FrontDoor(sources, verifiers, inbox, on_rejected, ready, clock, dict(admissions or {}))
    # No redirect for a trailing slash: a vendor's POST would follow a 307 nowhere useful.
    # The OpenAPI document and its pages describe the door to whoever knocks: off unless asked for.
    pages: dict[str, Any] = {} if openapi else {"openapi_url": None, "docs_url": None, "redoc_url": None}
    app = FastAPI(title="cdc-sync inbound webhooks", version="1", redirect_slashes=False, **pages)
    app.add_middleware(LastResort)
    refused: list[type[Exception]] = [Refused, *EXCEPTION_OUTCOMES]
    for kind in refused:
        app.add_exception_handler(kind, door.refuse)
    return _routed(app, door)
