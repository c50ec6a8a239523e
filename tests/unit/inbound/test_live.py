"""Live events over SSE: a Bearer token, known channels only, each follower its own bounded queue,
messages in order, a slow follower losing only its own oldest ones."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cdc_sync.inbound.live import LiveHub, add_live_events, stream

pytestmark = pytest.mark.anyio
TOKEN = "live-token"


def app_with(hub: LiveHub, token: str | None = TOKEN) -> httpx.AsyncClient:
    app = FastAPI()
    add_live_events(app, hub, token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve")


@pytest.mark.parametrize(
    ("token", "headers", "status"),
    [
        (None, {"authorization": f"Bearer {TOKEN}"}, 403),
        (TOKEN, {}, 401),
        (TOKEN, {"authorization": "Bearer wrong"}, 401),
        (TOKEN, {"authorization": f"Basic {TOKEN}"}, 401),
    ],
    ids=["off", "no-token", "wrong-token", "not-bearer"],
)
async def test_following_needs_the_bearer_token(
    token: str | None, headers: dict[str, str], status: int
) -> None:
    async with app_with(LiveHub(frozenset({"calls"})), token) as client:
        answer = await client.get("/events/calls", headers=headers)
    assert answer.status_code == status


async def test_an_unknown_channel_is_404() -> None:
    async with app_with(LiveHub(frozenset({"calls"}))) as client:
        answer = await client.get("/events/tickets", headers={"authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, "calls" in answer.json()["detail"]) == (404, True)


async def next_chunk(messages: Any) -> bytes:
    return bytes(await asyncio.wait_for(anext(messages), 2))


async def test_followers_get_every_message_in_order_after_saying_they_follow() -> None:
    hub = LiveHub(frozenset({"calls"}))
    first, second = stream(hub, "calls", heartbeat_s=5), stream(hub, "calls", heartbeat_s=5)
    assert await next_chunk(first) == b": following calls\n\n"
    assert await next_chunk(second) == b": following calls\n\n"
    hub.deliver("calls", {"call": "c-1"})
    hub.deliver("calls", {"call": "c-2"})
    hub.deliver("tickets", {"ignored": True})
    for follower in (first, second):
        assert await next_chunk(follower) == b'event: calls\nid: 1\ndata: {"call":"c-1"}\n\n'
        assert await next_chunk(follower) == b'event: calls\nid: 2\ndata: {"call":"c-2"}\n\n'
        await follower.aclose()
    hub.deliver("calls", {"call": "c-3"})  # nobody follows any more: nothing queued, nothing raised


async def test_a_slow_follower_loses_its_oldest_messages_and_hears_a_heartbeat_when_idle() -> None:
    hub = LiveHub(frozenset({"calls"}), depth=2)
    follower = stream(hub, "calls", heartbeat_s=0.05)
    await next_chunk(follower)
    for n in range(1, 5):
        hub.deliver("calls", {"n": n})
    got = [await next_chunk(follower), await next_chunk(follower), await next_chunk(follower)]
    assert got[:2] == [b'event: calls\nid: 1\ndata: {"n":3}\n\n', b'event: calls\nid: 2\ndata: {"n":4}\n\n']
    assert got[2] == b": keepalive\n\n"
    await follower.aclose()
