"""Static segments: the same things as tags, listed, created and changed in batches."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio

LIST = "/3.0/lists/list-1"
SEGMENTS = f"{LIST}/segments"


def mailchimp() -> httpx.AsyncClient:
    return client(create_mailchimp_app(settings(), clock=FakeClock(0.0)), MAILCHIMP_AUTH)


async def add_members(sandbox: httpx.AsyncClient, *emails: str, status: str = "subscribed") -> None:
    members = [{"email_address": email, "status": status} for email in emails]
    await sandbox.post(LIST, json={"members": members})


async def get_member(sandbox: httpx.AsyncClient, email: str) -> dict[str, Any]:
    return dict((await sandbox.get(f"{LIST}/members/{subscriber_hash(email)}")).json())


async def create(sandbox: httpx.AsyncClient, name: str, emails: list[str] | None = None) -> dict[str, Any]:
    response = await sandbox.post(SEGMENTS, json={"name": name, "static_segment": emails or []})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_create_and_list_static_segments() -> None:
    async with mailchimp() as sandbox:
        await add_members(sandbox, "ada@example.com")
        vip = await create(sandbox, "vip", ["ada@example.com", "stranger@example.com"])
        await create(sandbox, "beta")
        listed = (await sandbox.get(SEGMENTS, params={"type": "static", "count": 1, "offset": 1})).json()
        duplicate = await sandbox.post(SEGMENTS, json={"name": "vip", "static_segment": []})
        elsewhere = (await sandbox.get("/3.0/lists/other/segments", params={"type": "static"})).json()
    assert (vip["name"], vip["type"], vip["member_count"]) == ("vip", "static", 1)
    assert [segment["name"] for segment in listed["segments"]] == ["beta"]
    assert set(listed["segments"][0]) >= {"id", "name", "member_count", "type"}
    assert listed["total_items"] == 2
    assert duplicate.status_code == 400
    assert elsewhere["total_items"] == 0


async def test_tags_and_static_segments_are_the_same_thing() -> None:
    async with mailchimp() as sandbox:
        await add_members(sandbox, "ada@example.com", "bob@example.com")
        tags = {"tags": [{"name": "vip", "status": "active"}]}
        await sandbox.post(f"{LIST}/members/{subscriber_hash('ada@example.com')}/tags", json=tags)
        segment = (await sandbox.get(SEGMENTS, params={"type": "static"})).json()["segments"][0]
        await sandbox.post(f"{SEGMENTS}/{segment['id']}", json={"members_to_add": ["bob@example.com"]})
        bob = await get_member(sandbox, "bob@example.com")
        shown = (await sandbox.get(f"{SEGMENTS}/{segment['id']}")).json()
    assert (segment["name"], segment["member_count"]) == ("vip", 1)
    assert bob["tags"] == [{"id": segment["id"], "name": "vip"}]
    assert shown["member_count"] == 2


async def test_batch_add_and_remove_refuses_strangers_and_keeps_statuses() -> None:
    async with mailchimp() as sandbox:
        await add_members(sandbox, "ada@example.com", "bob@example.com")
        await add_members(sandbox, "cy@example.com", status="unsubscribed")
        segment = await create(sandbox, "vip", ["bob@example.com"])
        body = {
            "members_to_add": ["ada@example.com", "nobody@example.com", "cy@example.com"],
            "members_to_remove": ["bob@example.com"],
        }
        result = (await sandbox.post(f"{SEGMENTS}/{segment['id']}", json=body)).json()
        cy = await get_member(sandbox, "cy@example.com")
    assert [m["email_address"] for m in result["members_added"]] == ["ada@example.com", "cy@example.com"]
    assert [m["email_address"] for m in result["members_removed"]] == ["bob@example.com"]
    assert result["errors"][0]["email_addresses"] == ["nobody@example.com"]
    assert (result["total_added"], result["total_removed"], result["error_count"]) == (2, 1, 1)
    assert (cy["status"], [tag["name"] for tag in cy["tags"]]) == ("unsubscribed", ["vip"])


async def test_item_keys_cover_adds_then_removes_and_replays_are_not_counted_again() -> None:
    async with mailchimp() as sandbox:
        await add_members(sandbox, "ada@example.com", "bob@example.com")
        segment = await create(sandbox, "vip", ["bob@example.com"])
        path = f"{SEGMENTS}/{segment['id']}"
        body = {"members_to_add": ["ada@example.com"], "members_to_remove": ["bob@example.com"]}
        headers = {"X-Item-Idempotency-Keys": "add-ada,remove-bob"}
        first = (await sandbox.post(path, json=body, headers=headers)).json()
        again = (await sandbox.post(path, json=body, headers=headers)).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()["effects"]
    assert again == first
    assert (effects["add-ada"], effects["remove-bob"]) == (1, 1)


async def test_segment_limits_and_unknown_segments() -> None:
    async with mailchimp() as sandbox:
        segment = await create(sandbox, "vip")
        too_many = await sandbox.post(
            f"{SEGMENTS}/{segment['id']}", json={"members_to_add": [f"m{n}@example.com" for n in range(501)]}
        )
        unknown = await sandbox.post(f"{SEGMENTS}/999", json={"members_to_add": []})
        other_list = await sandbox.get(f"/3.0/lists/other/segments/{segment['id']}")
    assert too_many.status_code == 400
    assert (unknown.status_code, unknown.headers["content-type"]) == (404, "application/problem+json")
    assert other_list.status_code == 404
