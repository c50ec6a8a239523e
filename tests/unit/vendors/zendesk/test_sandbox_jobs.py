"""Zendesk create_or_update_many: a background job seen queued, working, then completed."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import ZENDESK_AUTH, FakeClock, SteppedSleep, client, settings

pytestmark = pytest.mark.anyio

MANY = "/api/v2/users/create_or_update_many"


def zendesk(sleep: SteppedSleep) -> httpx.AsyncClient:
    return client(create_zendesk_app(settings(), clock=FakeClock(0.0), sleep=sleep), ZENDESK_AUTH)


def user(n: int, **fields: Any) -> dict[str, Any]:
    return {"email": f"u{n}@example.com", "name": f"User {n}", "external_id": f"crm-{n}", **fields}


async def submit(
    sandbox: httpx.AsyncClient, users: list[dict[str, Any]], keys: str | None = None
) -> httpx.Response:
    headers = {"X-Item-Idempotency-Keys": keys} if keys is not None else {}
    return await sandbox.post(MANY, json={"users": users}, headers=headers)


async def status(sandbox: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    return dict((await sandbox.get(f"/api/v2/job_statuses/{job_id}")).json()["job_status"])


async def completed(sandbox: httpx.AsyncClient, sleep: SteppedSleep, job_id: str) -> dict[str, Any]:
    for _ in range(2):  # queued until the first wait ends, working until the second
        await sleep.step()
    job = await status(sandbox, job_id)
    assert job["status"] == "completed"
    return job


async def test_a_job_goes_queued_working_completed_with_results_in_request_order() -> None:
    sleep = SteppedSleep()
    async with zendesk(sleep) as sandbox:
        await completed(sandbox, sleep, (await submit(sandbox, [user(1)])).json()["job_status"]["id"])
        queued = (await submit(sandbox, [user(2), user(1, name="Renamed"), user(3, email="bad")])).json()
        job_id = queued["job_status"]["id"]
        seen = [(await status(sandbox, job_id))["status"]]
        await sleep.step()
        seen.append((await status(sandbox, job_id))["status"])
        await sleep.step()
        done = await status(sandbox, job_id)
    assert queued["job_status"] == {
        "id": job_id,
        "url": f"http://sandbox.test/api/v2/job_statuses/{job_id}.json",
        "status": "queued",
        "total": 3,
        "progress": 0,
        "message": None,
        "results": None,
    }
    assert [*seen, done["status"]] == ["queued", "working", "completed"]
    assert done["progress"] == 3
    assert done["results"][:2] == [
        {"index": 0, "id": 2, "status": "Created", "email": "u2@example.com", "external_id": "crm-2"},
        {"index": 1, "id": 1, "status": "Updated", "email": "u1@example.com", "external_id": "crm-1"},
    ]
    failed = done["results"][2]
    assert (failed["index"], failed["id"], failed["status"]) == (2, None, "Failed")
    assert "not properly formatted" in failed["details"]


async def test_items_take_effect_when_the_job_applies_them_and_keyed_ones_once() -> None:
    sleep = SteppedSleep()
    async with zendesk(sleep) as sandbox:
        first = (await submit(sandbox, [user(1), user(2)], "k-1,k-2")).json()["job_status"]["id"]
        before = (await sandbox.get("/_sandbox/effects")).json()
        first_results = (await completed(sandbox, sleep, first))["results"]
        retry = (await submit(sandbox, [user(2), user(1)], "k-2,k-1")).json()["job_status"]["id"]
        retry_results = (await completed(sandbox, sleep, retry))["results"]
        after = (await sandbox.get("/_sandbox/effects")).json()
    assert before == {"effects": {}, "total": 0}
    assert [r["status"] for r in first_results] == ["Created", "Created"]
    assert [(r["index"], r["id"], r["status"]) for r in retry_results] == [
        (0, 2, "Created"),
        (1, 1, "Created"),
    ]
    assert after == {"effects": {"k-1": 1, "k-2": 1}, "total": 2}


async def test_refusals_unknown_jobs_and_show_many() -> None:
    sleep = SteppedSleep()
    async with zendesk(sleep) as sandbox:
        too_many = await submit(sandbox, [user(n) for n in range(101)])
        missing = await sandbox.get("/api/v2/job_statuses/nope")
        job_id = (await submit(sandbox, [user(1)])).json()["job_status"]["id"]
        await completed(sandbox, sleep, job_id)
        by_url = await sandbox.get(f"/api/v2/job_statuses/{job_id}.json")
        many = (await sandbox.get("/api/v2/job_statuses/show_many", params={"ids": f"{job_id},nope"})).json()
    assert (too_many.status_code, too_many.json()["error"]) == (400, "BadRequest")
    assert (missing.status_code, missing.json()["error"]) == (404, "RecordNotFound")
    assert by_url.json()["job_status"]["status"] == "completed"
    assert [job["id"] for job in many["job_statuses"]] == [job_id]


async def test_at_most_30_jobs_queue_and_reset_drops_them() -> None:
    sleep = SteppedSleep()
    async with zendesk(sleep) as sandbox:
        queued = [(await submit(sandbox, [user(n)])).json()["job_status"]["id"] for n in range(30)]
        refused = await submit(sandbox, [user(99)])
        await sandbox.post("/_sandbox/reset")
        gone = await sandbox.get(f"/api/v2/job_statuses/{queued[0]}")
        accepted = await submit(sandbox, [user(99)])
        await completed(sandbox, sleep, accepted.json()["job_status"]["id"])
        users = (await sandbox.get("/api/v2/users")).json()["users"]
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    assert refused.json()["error"] == "TooManyJobs"
    assert (gone.status_code, accepted.status_code) == (404, 200)
    assert [u["external_id"] for u in users] == ["crm-99"]


async def test_lookups_follow_changed_emails_and_external_ids() -> None:
    sleep = SteppedSleep()
    async with zendesk(sleep) as sandbox:
        await completed(sandbox, sleep, (await submit(sandbox, [user(1)])).json()["job_status"]["id"])
        moved = [user(1, email="new@example.com"), {"email": "u1@example.com", "name": "Reused"}]
        done = await completed(sandbox, sleep, (await submit(sandbox, moved)).json()["job_status"]["id"])
        found = (await sandbox.get("/api/v2/users/search", params={"external_id": "crm-1"})).json()
    assert [(r["id"], r["status"]) for r in done["results"]] == [(1, "Updated"), (2, "Created")]
    assert [u["email"] for u in found["users"]] == ["new@example.com"]
