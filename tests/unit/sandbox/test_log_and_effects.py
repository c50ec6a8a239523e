"""The bounded request log (absolute indexes), the effects summary, and what reset clears."""

import httpx
import pytest

from cdc_sync.sandbox.server import SandboxSettings
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, client

pytestmark = pytest.mark.anyio

LIST = "/3.0/lists/list-1"


def mailchimp(**settings: int) -> httpx.AsyncClient:
    app = create_mailchimp_app(SandboxSettings.model_validate(settings), clock=FakeClock(0.0))
    return client(app, MAILCHIMP_AUTH)


def member_path(n: int) -> str:
    return f"{LIST}/members/{subscriber_hash(f'm{n}@example.com')}"


async def put_member(sandbox: httpx.AsyncClient, n: int, key: str | None = None) -> None:
    body = {"email_address": f"m{n}@example.com", "status_if_new": "subscribed"}
    await sandbox.put(member_path(n), json=body, headers={"Idempotency-Key": key} if key else {})


async def test_the_log_keeps_the_newest_entries_under_their_absolute_numbers() -> None:
    async with mailchimp(request_log_limit=3) as sandbox:
        for n in range(5):
            await put_member(sandbox, n)
        everything = (await sandbox.get("/_sandbox/requests")).json()
        from_three = (await sandbox.get("/_sandbox/requests", params={"since": 3})).json()
        past_the_end = (await sandbox.get("/_sandbox/requests", params={"since": 9})).json()
    assert everything["total"] == 5
    assert [entry["path"] for entry in everything["requests"]] == [member_path(n) for n in (2, 3, 4)]
    assert [entry["path"] for entry in from_three["requests"]] == [member_path(n) for n in (3, 4)]
    assert (past_the_end["requests"], past_the_end["total"]) == ([], 5)


async def test_the_log_also_drops_old_entries_beyond_its_byte_budget() -> None:
    async with mailchimp(request_log_bytes=1) as sandbox:
        for n in range(3):
            await put_member(sandbox, n)
        log = (await sandbox.get("/_sandbox/requests")).json()
    assert (log["total"], [entry["path"] for entry in log["requests"]]) == (3, [member_path(2)])


async def test_effects_summary_counts_keys_and_a_key_takes_effect_once_whichever_way_it_comes() -> None:
    async with mailchimp() as sandbox:
        await put_member(sandbox, 1, "k-1")
        await put_member(sandbox, 1, "k-1")  # replayed: still one effect
        members = [{"email_address": f"m{n}@example.com", "status": "subscribed"} for n in (2, 3)]
        for _ in range(2):  # the same items sent twice under fresh request keys and no item keys
            await sandbox.post(LIST, json={"members": members, "update_existing": True})
        # The change the PUT already made, sent again inside a batch (after a crash, say): the
        # vendor has it under its key, so only k-3 takes effect.
        headers = {"X-Item-Idempotency-Keys": "k-1,k-3"}
        await sandbox.post(LIST, json={"members": members, "update_existing": True}, headers=headers)
        summary = (await sandbox.get("/_sandbox/effects", params={"summary": "true"})).json()
        full = (await sandbox.get("/_sandbox/effects")).json()
    assert summary == {"total": 6, "keys": 6, "duplicated_keys": 0, "sample_duplicates": []}
    assert (full["effects"]["k-1"], full["effects"]["k-3"]) == (1, 1)
    assert sum(1 for name in full["effects"] if name.startswith("POST ")) == 4  # unkeyed: each counts


async def test_reset_forgets_item_answers_request_numbers_and_members() -> None:
    async with mailchimp() as sandbox:
        body = {"members": [{"email_address": "m1@example.com", "status": "subscribed"}]}
        headers = {"X-Item-Idempotency-Keys": "k-1"}
        await sandbox.post(LIST, json=body, headers=headers)
        await sandbox.post("/_sandbox/reset")
        log = (await sandbox.get("/_sandbox/requests")).json()
        again = (await sandbox.post(LIST, json=body, headers=headers)).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (log["total"], log["requests"]) == (0, [])
    assert again["total_created"] == 1  # applied anew, not answered from a stale store
    assert effects == {"effects": {"k-1": 1}, "total": 1}
