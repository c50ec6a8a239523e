"""Zendesk's user deletion: soft (into deleted_users, out of lists and matching), then permanent."""

import httpx
import pytest

from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import ZENDESK_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio


def zendesk() -> httpx.AsyncClient:
    return client(create_zendesk_app(settings(), clock=FakeClock(0.0)), ZENDESK_AUTH)


async def create(sandbox: httpx.AsyncClient, email: str, external_id: str) -> int:
    user = {"email": email, "name": "Ann", "external_id": external_id}
    answer = await sandbox.post("/api/v2/users/create_or_update", json={"user": user})
    return int(answer.json()["user"]["id"])


async def test_a_deleted_user_waits_in_deleted_users_until_deleted_permanently() -> None:
    async with zendesk() as sandbox:
        first, second = (
            await create(sandbox, "a@example.com", "1"),
            await create(sandbox, "b@example.com", "2"),
        )
        early = await sandbox.delete(f"/api/v2/deleted_users/{first}")
        deleted = await sandbox.delete(f"/api/v2/users/{first}")
        searched = (await sandbox.get("/api/v2/users/search", params={"external_id": "1"})).json()
        listed = (await sandbox.get("/api/v2/users", params={"page[size]": 10})).json()
        kept = await sandbox.get(f"/api/v2/deleted_users/{first}")
        erased = await sandbox.delete(f"/api/v2/deleted_users/{first}")
        gone = [await sandbox.get(f"/api/v2/{path}/{first}") for path in ("users", "deleted_users")]
        third = await create(sandbox, "a@example.com", "1")
    assert early.status_code == 404
    assert deleted.status_code == 200 and deleted.json()["user"]["active"] is False
    assert searched["users"] == []
    assert [user["id"] for user in listed["users"]] == [second]
    assert kept.json()["deleted_user"]["email"] == "a@example.com"
    assert erased.status_code == 200 and "email" not in erased.json()["deleted_user"]
    assert [answer.status_code for answer in gone] == [404, 404]
    assert third == 3  # a new user: ids are never reused
