"""The call-center sandbox: Bearer auth, dial batches taken once per batch + task (also through
cdc-sync's own Lane, retried after vendor errors), agents by cursor, call detail and signed
recording links that cdc-sync's recording policy accepts."""

import asyncio
from datetime import datetime
from random import Random
from typing import Any

import httpx
import pytest

from cdc_sync.delivery.sender import Lane
from cdc_sync.repair.readers import VendorApi
from cdc_sync.vendors.callcenter.options import media_hosts
from cdc_sync.vendors.callcenter.reader import read_agents
from cdc_sync.vendors.callcenter.recordings import check_recording_url
from cdc_sync.vendors.callcenter.sandbox import create_callcenter_app
from cdc_sync.vendors.registry import build_destination
from tests.unit.delivery.test_sender import MemoryHooks
from tests.unit.sandbox.fakes import START, FakeClock, settings
from tests.unit.vendors.callcenter.test_webhooks_and_dials import CONFIG, dial_deliveries

pytestmark = pytest.mark.anyio
TOKEN = {"authorization": "Bearer sandbox-callcenter-token"}


def center(**faults: object) -> httpx.AsyncClient:
    app = create_callcenter_app(settings(**faults), clock=FakeClock(START))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cc", headers=TOKEN)


def batch(batch_id: str, *task_ids: str) -> dict[str, Any]:
    return {"batch_id": batch_id, "tasks": [{"task_id": t, "phone": "+493012345678"} for t in task_ids]}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic c2FuZGJveDp4"])
async def test_a_request_without_the_token_is_refused(authorization: str | None) -> None:
    async with center() as cc:
        cc.headers.pop("authorization")
        headers = {} if authorization is None else {"authorization": authorization}
        answer = await cc.post("/v1/dial-batches", json=batch("b", "t1"), headers=headers)
        tasks = (await cc.get("/_sandbox/dial-tasks")).json()["tasks"]
    assert (answer.status_code, answer.json()["error"]["code"], tasks) == (401, "unauthorized", [])


async def test_a_resent_batch_dials_nobody_twice_and_counts_each_task_once() -> None:
    async with center() as cc:
        first = await cc.post("/v1/dial-batches", json=batch("b1", "t1", "t2"))
        again = await cc.post("/v1/dial-batches", json=batch("b1", "t1", "t2", "t3"))
        other = await cc.post("/v1/dial-batches", json=batch("b2", "t1"))
        tasks = (await cc.get("/_sandbox/dial-tasks")).json()["tasks"]
        effects = (await cc.get("/_sandbox/effects?summary=true")).json()
    assert [a.status_code for a in (first, again, other)] == [202, 202, 202]
    assert [(a.json()["accepted"], a.json()["queued"]) for a in (first, again, other)] == [
        (2, 2),
        (3, 1),
        (1, 1),
    ]
    assert [(t["batch_id"], t["task_id"]) for t in tasks] == [
        ("b1", "t1"),
        ("b1", "t2"),
        ("b1", "t3"),
        ("b2", "t1"),
    ]
    assert (effects["total"], effects["duplicated_keys"]) == (4, 0)


@pytest.mark.parametrize(
    "body",
    [
        batch("b", *[f"t{n}" for n in range(501)]),
        {"batch_id": "b", "tasks": [{"task_id": "t", "phone": "030 1234"}]},
        {"batch_id": "b", "tasks": []},
        {"tasks": [{"task_id": "t", "phone": "+493012345678"}]},
    ],
    ids=["over-500", "not-e164", "empty", "no-batch-id"],
)
async def test_a_batch_off_the_api_is_refused_whole(body: dict[str, Any]) -> None:
    async with center() as cc:
        answer = await cc.post("/v1/dial-batches", json=body)
        tasks = (await cc.get("/_sandbox/dial-tasks")).json()["tasks"]
    assert (answer.status_code, tasks) == (422, [])


async def test_agents_page_by_cursor_to_the_end() -> None:
    agents = [{"agent_id": f"a{n}", "name": f"Agent {n}", "email": f"a{n}@example.com"} for n in range(5)]
    async with center() as cc:
        await cc.post("/_sandbox/agents", json={"agents": agents})
        seen, cursor, pages = [], None, 0
        while True:
            page = (
                await cc.get("/v1/agents", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            ).json()
            seen += [a["agent_id"] for a in page["agents"]]
            pages, cursor = pages + 1, page["next_cursor"]
            if cursor is None:
                break
        forged = await cc.get("/v1/agents", params={"cursor": "bm9wZQ=="})
    assert (seen, pages) == ([f"a{n}" for n in range(5)], 3)
    assert forged.status_code == 400


async def test_call_detail_and_a_signed_recording_link_cdc_sync_would_keep() -> None:
    async with center() as cc:
        calls = [{"call_id": "c1", "status": "answered", "recording_ready": True}, {"call_id": "c2"}]
        await cc.post("/_sandbox/calls", json={"calls": calls})
        detail = await cc.get("/v1/calls/c1")
        missing = await cc.get("/v1/calls/nope")
        link = (await cc.post("/v1/recordings/c1/link")).json()
        no_recording = await cc.post("/v1/recordings/c2/link")
    assert (detail.json()["call"]["status"], missing.status_code, no_recording.status_code) == (
        "answered",
        404,
        404,
    )
    expires = datetime.fromisoformat(link["expires_at"]).timestamp()
    assert START < expires <= START + 24 * 3600
    assert len(link["sha256"]) == 64 and link["url"].startswith("https://")
    assert check_recording_url(link["url"], media_hosts({})) == "media.callcenter.example"


def test_dial_tasks_through_a_lane_with_vendor_errors_take_effect_once_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_CALLCENTER_TOKEN", "sandbox-callcenter-token")
    app = create_callcenter_app(settings(error_rate=0.3), rng=Random(7))
    config = CONFIG.model_copy(update={"batch_window_s": 0.005, "backoff_base_s": 0.001, "batch_max": 7})
    hooks, deliveries = MemoryHooks(), dial_deliveries(*[f"t-{n}" for n in range(40)])

    async def go() -> dict[str, Any]:
        lane = Lane(config, build_destination("cc", config, httpx.ASGITransport(app=app)), hooks)
        for delivery in deliveries:
            lane.submit(delivery, lambda: None)
        await lane.drain()
        await lane.destination.aclose()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cc") as cc:
            return dict((await cc.get("/_sandbox/effects?summary=true")).json())

    effects = asyncio.run(go())
    assert hooks.dead == [] and len(hooks.attempts) > len(deliveries)  # some were retried
    assert {a[0] for a in hooks.attempts if a[2] == "ok"} == {d.idempotency_key for d in deliveries}
    assert (effects["keys"], effects["duplicated_keys"]) == (40, 0)


def test_the_agent_sync_reads_every_page_through_the_paced_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CALLCENTER_TOKEN", "sandbox-callcenter-token")
    app = create_callcenter_app(settings())
    seeds = [{"agent_id": f"a{n}", "email": f"a{n}@example.com"} for n in range(250)]

    async def go() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cc") as cc:
            await cc.post("/_sandbox/agents", json={"agents": seeds})
        api = VendorApi("cc", CONFIG, httpx.ASGITransport(app=app))
        return await read_agents(api)

    agents = asyncio.run(go())
    assert [a["agent_id"] for a in agents] == [f"a{n}" for n in range(250)]
