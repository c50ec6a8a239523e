"""Mailchimp's permanent deletion (data-subject erasure): the member is gone and cannot come back."""

import httpx
import pytest

from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio

LIST = "/3.0/lists/list-1"
EMAIL = "erase.me@example.com"
MEMBER = f"{LIST}/members/{subscriber_hash(EMAIL)}"


def mailchimp() -> httpx.AsyncClient:
    return client(create_mailchimp_app(settings(), clock=FakeClock(0.0)), MAILCHIMP_AUTH)


async def test_a_permanently_deleted_member_is_gone_and_cannot_be_imported_again() -> None:
    async with mailchimp() as sandbox:
        put = {"email_address": EMAIL, "status_if_new": "transactional"}
        assert (await sandbox.put(MEMBER, json=put)).status_code == 200
        tagged = await sandbox.post(f"{MEMBER}/tags", json={"tags": [{"name": "vip", "status": "active"}]})
        assert tagged.status_code == 204
        deleted = await sandbox.post(f"{MEMBER}/actions/delete-permanent")
        shown = await sandbox.get(MEMBER)
        listed = (await sandbox.get(f"{LIST}/members")).json()
        again = await sandbox.put(MEMBER, json=put)
        batch = await sandbox.post(
            LIST, json={"members": [{"email_address": EMAIL, "status": "transactional"}]}
        )
        twice = await sandbox.post(f"{MEMBER}/actions/delete-permanent")
        segments = (await sandbox.get(f"{LIST}/segments", params={"type": "static"})).json()
    assert deleted.status_code == 204 and not deleted.content
    assert shown.status_code == 404
    assert (listed["total_items"], listed["members"]) == (0, [])
    assert again.status_code == 400
    assert again.json()["title"] == "Forgotten Email Not Subscribed"
    assert "cannot be re-imported" in again.json()["detail"]
    assert batch.json()["error_count"] == 1 and batch.json()["total_created"] == 0
    assert twice.status_code == 404
    assert [s["member_count"] for s in segments["segments"]] == [0]
