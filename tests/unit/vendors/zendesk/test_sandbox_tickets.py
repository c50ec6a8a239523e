"""Zendesk ticket updates with collision protection, and the cursor-based incremental export."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import ZENDESK_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio
HOUR = 3600


def zendesk(clock: FakeClock) -> httpx.AsyncClient:
    return client(create_zendesk_app(settings(), clock=clock), ZENDESK_AUTH)


async def seed(sandbox: httpx.AsyncClient, *tickets: dict[str, Any]) -> None:
    seeded = await sandbox.post("/_sandbox/tickets", json={"tickets": list(tickets)})
    assert seeded.status_code == 201


async def test_a_safe_update_is_refused_once_the_ticket_changed_since_its_stamp() -> None:
    clock = FakeClock(10 * HOUR)
    async with zendesk(clock) as sandbox:
        await seed(sandbox, {"id": 42, "priority": "normal"})
        seen = (await sandbox.get("/api/v2/tickets/42")).json()["ticket"]["updated_at"]
        clock.advance(60)
        agent = await sandbox.put("/api/v2/tickets/42", json={"ticket": {"priority": "low"}})
        stale = {"priority": "urgent", "safe_update": True, "updated_stamp": seen}
        refused = await sandbox.put("/api/v2/tickets/42", json={"ticket": stale})
        fresh = {**stale, "updated_stamp": agent.json()["ticket"]["updated_at"]}
        clock.advance(60)
        accepted = await sandbox.put("/api/v2/tickets/42", json={"ticket": fresh})
        invalid = await sandbox.put("/api/v2/tickets/42", json={"ticket": {"priority": "whenever"}})
        missing = await sandbox.put("/api/v2/tickets/7", json={"ticket": {"priority": "low"}})
    assert (agent.status_code, agent.json()["ticket"]["updated_at"]) == (200, "1970-01-01T10:01:00Z")
    assert (refused.status_code, refused.json()["error"]) == (409, "UpdateConflict")
    assert accepted.status_code == 200
    assert (accepted.json()["ticket"]["priority"], accepted.json()["ticket"]["updated_at"]) == (
        "urgent",
        "1970-01-01T10:02:00Z",
    )
    assert (invalid.status_code, invalid.json()["error"]) == (422, "RecordInvalid")
    assert missing.status_code == 404


async def test_the_export_pages_every_change_since_start_time_oldest_first_and_resumes_by_cursor() -> None:
    clock = FakeClock(10 * HOUR)
    async with zendesk(clock) as sandbox:
        stamps = [f"1970-01-01T0{hour}:00:00Z" for hour in (3, 1, 2)]
        await seed(sandbox, *({"id": i + 1, "updated_at": at} for i, at in enumerate(stamps)))
        await seed(sandbox, {"id": 4, "updated_at": "1970-01-01T00:30:00Z"})  # before start_time
        first = (
            await sandbox.get("/api/v2/incremental/tickets/cursor.json?start_time=3600&per_page=2")
        ).json()
        rest = (
            await sandbox.get(f"/api/v2/incremental/tickets/cursor?cursor={first['after_cursor']}")
        ).json()
        await sandbox.put("/api/v2/tickets/2", json={"ticket": {"status": "solved"}})  # changes now
        young = (
            await sandbox.get(f"/api/v2/incremental/tickets/cursor?cursor={rest['after_cursor']}")
        ).json()
        clock.advance(61)
        later = (
            await sandbox.get(f"/api/v2/incremental/tickets/cursor?cursor={rest['after_cursor']}")
        ).json()
        refused = await sandbox.get("/api/v2/incremental/tickets/cursor?cursor=nonsense")
    assert ([t["id"] for t in first["tickets"]], first["end_of_stream"]) == ([2, 3], False)
    assert first["after_url"].endswith(f"cursor.json?cursor={first['after_cursor']}")
    assert ([t["id"] for t in rest["tickets"]], rest["end_of_stream"]) == ([1], True)
    assert (young["tickets"], young["end_of_stream"]) == ([], True)  # the last minute is left out
    assert ([t["id"] for t in later["tickets"]], later["tickets"][0]["status"]) == ([2], "solved")
    assert refused.status_code == 400
