"""Mailchimp batch subscribe as VENDORS.md describes it, and per-item idempotency keys."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio

LIST = "/3.0/lists/list-1"


def mailchimp(clock: FakeClock | None = None) -> httpx.AsyncClient:
    return client(create_mailchimp_app(settings(), clock=clock or FakeClock(0.0)), MAILCHIMP_AUTH)


def member(email: str, status: str = "transactional", **fields: Any) -> dict[str, Any]:
    return {"email_address": email, "status": status, **fields}


async def batch(
    sandbox: httpx.AsyncClient,
    members: list[dict[str, Any]],
    keys: list[str] | None = None,
    update_existing: bool = False,
    request_key: str | None = None,
) -> httpx.Response:
    headers = {"X-Item-Idempotency-Keys": ",".join(keys)} if keys is not None else {}
    headers |= {"Idempotency-Key": request_key} if request_key else {}
    body = {"members": members, "update_existing": update_existing}
    return await sandbox.post(LIST, json=body, headers=headers)


async def effects(sandbox: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await sandbox.get("/_sandbox/effects")).json())


async def test_one_invalid_member_in_a_full_batch_is_one_error_and_499_created() -> None:
    members = [member(f"m{n}@example.com") for n in range(500)]
    members[137] = member("not-an-email")
    keys = [f"item-{n}" for n in range(500)]
    async with mailchimp() as sandbox:
        result = (await batch(sandbox, members, keys)).json()
        counted = await effects(sandbox)
    assert (result["total_created"], result["total_updated"], result["error_count"]) == (499, 0, 1)
    assert result["errors"][0]["email_address"] == "not-an-email"
    assert (counted["total"], "item-137" in counted["effects"]) == (499, False)


async def test_a_replayed_item_is_answered_as_before_and_not_counted_twice() -> None:
    clock = FakeClock(0.0)
    async with mailchimp(clock) as sandbox:
        first = (await batch(sandbox, [member("ada@example.com")], ["k-ada"])).json()
        clock.advance(60)
        # The retry carries a new item besides the one that already took effect.
        again = await batch(
            sandbox, [member("ada@example.com"), member("bob@example.com")], ["k-ada", "k-bob"]
        )
        counted = await effects(sandbox)
    result = again.json()
    assert result["new_members"][0] == first["new_members"][0]  # not ERROR_CONTACT_EXISTS
    assert [m["email_address"] for m in result["new_members"]] == ["ada@example.com", "bob@example.com"]
    assert (result["total_created"], result["error_count"]) == (2, 0)
    assert counted == {"effects": {"k-ada": 1, "k-bob": 1}, "total": 2}


async def test_a_failed_item_is_tried_again_on_retry() -> None:
    async with mailchimp() as sandbox:
        await sandbox.put(
            f"{LIST}/members/{subscriber_hash('ada@example.com')}",
            json={"email_address": "ada@example.com", "status_if_new": "subscribed"},
        )
        refused = (await batch(sandbox, [member("ada@example.com")], ["k-1"])).json()
        updated = (await batch(sandbox, [member("ada@example.com", "unsubscribed")], ["k-1"], True)).json()
    assert refused["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS"
    assert (updated["total_updated"], updated["updated_members"][0]["status"]) == (1, "unsubscribed")


async def test_a_replayed_request_returns_the_stored_answer() -> None:
    async with mailchimp() as sandbox:
        first = await batch(sandbox, [member("ada@example.com")], ["k-ada"], request_key="req-1")
        second = await batch(sandbox, [member("zed@example.com")], ["k-zed"], request_key="req-1")
        listed = (await sandbox.get(f"{LIST}/members")).json()
        counted = await effects(sandbox)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert listed["total_items"] == 1
    assert counted == {"effects": {"k-ada": 1}, "total": 1}


async def test_items_without_keys_are_separate_effects_every_time() -> None:
    async with mailchimp() as sandbox:
        await batch(sandbox, [member("ada@example.com"), member("bob@example.com")])
        await batch(sandbox, [member("ada@example.com", "pending")], update_existing=True)
        counted = await effects(sandbox)
    assert counted == {
        "effects": {f"POST {LIST} #1": 1, f"POST {LIST} #2": 1, f"POST {LIST} #3": 1},
        "total": 3,
    }


@pytest.mark.parametrize("keys", [["k-1"], ["k-1", ""], ["k-1", "k-2", "k-3"]])
async def test_item_keys_must_name_one_key_per_member(keys: list[str]) -> None:
    async with mailchimp() as sandbox:
        response = await batch(sandbox, [member("a@example.com"), member("b@example.com")], keys)
        listed = (await sandbox.get(f"{LIST}/members")).json()
    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
    assert listed["total_items"] == 0


async def test_status_is_required_and_status_if_new_is_not_honoured() -> None:
    async with mailchimp() as sandbox:
        body = {"members": [{"email_address": "ada@example.com", "status_if_new": "subscribed"}]}
        result = (await sandbox.post(LIST, json=body)).json()
        missing = await sandbox.get(f"{LIST}/members/{subscriber_hash('ada@example.com')}")
    assert (result["error_count"], "status" in result["errors"][0]["error"]) == (1, True)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("before", "mentions"), [("unsubscribed", "has unsubscribed"), ("cleaned", "compliance")]
)
async def test_unsubscribed_or_cleaned_members_cannot_be_resubscribed(before: str, mentions: str) -> None:
    async with mailchimp() as sandbox:
        await batch(sandbox, [member("ada@example.com", before)])
        result = (
            await batch(sandbox, [member("ada@example.com", "subscribed")], update_existing=True)
        ).json()
        pending = (await batch(sandbox, [member("ada@example.com", "pending")], update_existing=True)).json()
    assert (result["error_count"], result["total_updated"]) == (1, 0)
    assert mentions in result["errors"][0]["error"]
    assert pending["updated_members"][0]["status"] == "pending"  # asking to confirm again is allowed
