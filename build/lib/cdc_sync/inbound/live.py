"""Live notices to browser sessions over Server-Sent Events: `GET /events/{channel}` with
`Authorization: Bearer <CDC_SYNC_EVENTS_TOKEN>`. A vendor's handlers announce (the call center's
screen pop on `calls`); the writer's commit publishes, `serve` follows the database and fans out.
A follower that falls behind loses its oldest messages, never the others'."""

import asyncio
import hmac
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cdc_sync.inbound.app import Problem
from cdc_sync.observability.metrics import LIVE_DROPPED, LIVE_SENT

FOLLOWER_DEPTH = 100
HEARTBEAT_S = 15.0
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


class LiveHub:
    """The followers of each channel, each with a bounded queue (one event loop: no locks)."""

    def __init__(self, channels: frozenset[str], depth: int = FOLLOWER_DEPTH) -> None:
        self.channels = channels
        self._depth = depth
        self._followers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {name: set() for name in channels}

    def deliver(self, channel: str, data: dict[str, Any]) -> None:
        for queue in self._followers.get(channel, ()):
            if queue.full():
                queue.get_nowait()
                LIVE_DROPPED.labels(channel).inc()
            queue.put_nowait(data)

    @contextmanager
    def following(self, channel: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._depth)
        self._followers[channel].add(queue)
        try:
            yield queue
        finally:
            self._followers[channel].discard(queue)


def sse(channel: str, number: int, data: dict[str, Any]) -> bytes:
    return b"event: %s\nid: %d\ndata: %s\n\n" % (channel.encode(), number, orjson.dumps(data))


async def stream(hub: LiveHub, channel: str, heartbeat_s: float = HEARTBEAT_S) -> AsyncGenerator[bytes]:
    """The follower's messages; a first comment says it is subscribed, then one every heartbeat."""
    with hub.following(channel) as queue:
        yield b": following " + channel.encode() + b"\n\n"
        number = 0
        while True:
            try:
                data = await asyncio.wait_for(queue.get(), heartbeat_s)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            number += 1
            LIVE_SENT.labels(channel).inc()
            yield sse(channel, number, data)


REFUSALS = {401: "unauthorized", 403: "live events off", 404: "unknown channel"}


def refusal(status: int, detail: str) -> Response:
    """The serve app's one error body (`Problem`), as every webhook refusal has it."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = Problem(error=REFUSALS[status], detail=detail).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def add_live_events(app: FastAPI, hub: LiveHub, token: str | None, heartbeat_s: float = HEARTBEAT_S) -> None:
    async def follow(channel: str, request: Request) -> Response:
        if token is None:
            return refusal(403, "live events are off: set CDC_SYNC_EVENTS_TOKEN")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return refusal(401, "a valid Bearer token is required")
        if channel not in hub.channels:
            return refusal(404, f"no live channel {channel[:40]!r}; known: {', '.join(sorted(hub.channels))}")
        body = stream(hub, channel, heartbeat_s)
        return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)

    app.add_api_route("/events/{channel}", follow, methods=["GET"], response_class=StreamingResponse)
