"""What stands between the network and a vendor's routes: faults, latency, authentication,
idempotent replay and the request log. Also assembles a sandbox app from a vendor's parts."""

import asyncio
import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import NoReturn
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cdc_sync.sandbox.control import CONTROL_PREFIX, ControlEndpoints, Sandbox, VendorState
from cdc_sync.sandbox.effects import ATTEMPT, Attempt
from cdc_sync.sandbox.faults import (
    FAULT_DETAILS,
    Clock,
    ConnectionDropped,
    FaultDecision,
    FaultInjector,
    FaultKind,
    Faults,
)
from cdc_sync.sandbox.recorder import Incoming, Recorder, StoredResponse

ErrorShaper = Callable[[int, str], Response]
"""Builds the vendor's own error body for a status and a human-readable detail."""

Guard = Callable[[Incoming], Response | None]
"""Authenticates a request: None to let it through, else the vendor's refusal."""


@dataclass(frozen=True)
class VendorProfile:
    routes: Sequence[BaseRoute]
    state: VendorState
    error: ErrorShaper
    guard: Guard
    idempotency_header: str = "idempotency-key"
    control_routes: Sequence[BaseRoute] = ()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic `Authorization` header, None when absent or malformed."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def secret_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def stored(response: Response) -> StoredResponse:
    return StoredResponse(response.status_code, list(response.raw_headers), bytes(response.body))


def incoming_request(scope: Scope, body: bytes) -> Incoming:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    return Incoming(scope["method"], scope["path"], query, headers, body)


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message["type"] == "http.request" and message.get("more_body", False)
    return b"".join(chunks)


async def capture(app: ASGIApp, scope: Scope, body: bytes) -> StoredResponse:
    """Run the vendor routes on an already-read body and keep the whole response."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    start: Message = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        if pending:
            return pending.pop()
        # Past the body there is only a disconnect to hear, and a buffered response never has one.
        await asyncio.Event().wait()
        raise AssertionError("an event nobody sets never fires")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return StoredResponse(start["status"], list(start.get("headers", [])), b"".join(chunks))


async def send_stored(send: Send, response: StoredResponse) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
    await send({"type": "http.response.body", "body": response.body})


async def drop_connection(send: Send) -> NoReturn:
    # Starting the response before failing makes the server abort the connection instead of
    # answering 500, which is what a client sees when a vendor's load balancer resets it.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})
    raise ConnectionDropped("the sandbox dropped the connection (drop_connection_rate fault)")


class VendorGate:
    """ASGI middleware every vendor request goes through; `/_sandbox/*` passes straight by."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox, vendor: VendorProfile) -> None:
        self.app = app
        self.sandbox = sandbox
        self.vendor = vendor
        # Keys being applied right now: a retry racing its own slow original waits for it and
        # gets the stored answer. The loop is single-threaded, so nothing else needs a lock.
        self._in_flight: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        incoming = incoming_request(scope, await read_body(receive))
        key = incoming.headers.get(self.vendor.idempotency_header)
        entry = self.sandbox.recorder.record(incoming, key)
        decision = self.sandbox.injector.decide()
        if decision.kind is FaultKind.DROP:
            await drop_connection(send)
        reply = await self._answer(scope, incoming, key, decision)
        entry.status = reply.status
        await send_stored(send, reply)

    async def _answer(
        self, scope: Scope, incoming: Incoming, key: str | None, decision: FaultDecision
    ) -> StoredResponse:
        if decision.kind is not FaultKind.NONE:
            return self._fault_reply(decision)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        denial = self.vendor.guard(incoming)
        if denial is not None:
            return stored(denial)
        if key is None or not incoming.changes_state:
            return await self._apply(scope, incoming, key)
        return await self._apply_once(scope, incoming, key)

    async def _apply_once(self, scope: Scope, incoming: Incoming, key: str) -> StoredResponse:
        while (running := self._in_flight.get(key)) is not None:
            await running.wait()
        previous = self.sandbox.recorder.replay(incoming, key) or self._taken_as_item(key)
        if previous is not None:
            return previous
        done = self._in_flight[key] = asyncio.Event()
        try:
            return await self._apply(scope, incoming, key)
        finally:
            del self._in_flight[key]
            done.set()

    def _taken_as_item(self, key: str) -> StoredResponse | None:
        """A key that took effect as an item of a batch is not applied again as a single request:
        answered 200 with that item's answer (e.g. the member as the batch left it)."""
        effects = self.sandbox.recorder.effects
        if not effects.taken(key):
            return None
        answer = effects.item_answer(key)
        return StoredResponse(200, [(b"content-type", b"application/json")], answer[1] if answer else b"{}")

    async def _apply(self, scope: Scope, incoming: Incoming, key: str | None) -> StoredResponse:
        attempt = Attempt()
        reply = await capture(self.app, {**scope, ATTEMPT: attempt}, incoming.body)
        self.sandbox.recorder.applied(incoming, key, reply, attempt.counted_per_item)
        return reply

    def _fault_reply(self, decision: FaultDecision) -> StoredResponse:
        assert decision.status is not None, "answering faults carry a status"
        response = self.vendor.error(decision.status, FAULT_DETAILS[decision.kind])
        if decision.retry_after_s is not None:
            response.headers["Retry-After"] = str(decision.retry_after_s)
        return stored(response)


def vendor_errors(shape: ErrorShaper) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Unknown paths and methods answered in the vendor's error shape, not Starlette's plain text."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException), "registered for HTTPException only"
        response = shape(exc.status_code, exc.detail)
        response.headers.update(exc.headers or {})
        return response

    return handle


def sandbox_app(
    vendor: VendorProfile, faults: Faults, rng: Random, clock: Clock, recorder: Recorder
) -> Starlette:
    sandbox = Sandbox(FaultInjector(faults, rng, clock), recorder, vendor.state)
    app = Starlette(
        # Vendor routes first: they are the hot path, and none of them lies under `/_sandbox/`.
        routes=[*vendor.routes, *ControlEndpoints(sandbox).routes(), *vendor.control_routes],
        middleware=[Middleware(VendorGate, sandbox=sandbox, vendor=vendor)],
        exception_handlers={HTTPException: vendor_errors(vendor.error)},
    )
    app.state.sandbox = sandbox
    return app
