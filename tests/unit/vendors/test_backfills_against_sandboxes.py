"""Each vendor's backfill pages read from its sandbox through `VendorApi`: the events they make of
the vendor's records, and a page's position to resume after."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cdc_sync.model.inbound import DEFERRABLE
from cdc_sync.repair.readers import VendorApi
from cdc_sync.sandbox.server import SandboxSettings
from cdc_sync.vendors.mailchimp.backfill import member_pages
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app
from cdc_sync.vendors.mailchimp.sandbox_members import BY_ADMIN, subscriber_hash
from cdc_sync.vendors.mailchimp.webhooks import LIST_FORMAT
from cdc_sync.vendors.plugin import BackfillPage, BackfillStart
from cdc_sync.vendors.zendesk.backfill import export_pages
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import FakeClock
from tests.unit.vendors.test_batches_against_sandboxes import HELPDESK, MARKETING

pytestmark = pytest.mark.anyio
SANDBOX = SandboxSettings()
DAY = 86_400


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MAILCHIMP_KEY", SANDBOX.mailchimp_api_key)
    monkeypatch.setenv("TEST_ZENDESK_TOKEN", SANDBOX.zendesk_api_token)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def pages(api: VendorApi, walk: Any) -> list[BackfillPage]:
    try:
        return [page async for page in walk]
    finally:
        await api.aclose()


def api_of(name: str, app: Starlette, config: Any) -> VendorApi:
    return VendorApi(name, config, transport=httpx.ASGITransport(app=app))


async def test_the_helpdesk_export_becomes_ticket_created_events_and_resumes_after_a_page() -> None:
    app = create_zendesk_app(SANDBOX, clock=FakeClock(30 * DAY))
    seeds = [
        {"id": i, "status": "solved", "updated_at": f"1970-01-0{i + 1}T00:00:00Z", "subject": f"T{i}"}
        for i in range(1, 6)
    ]
    seeds[0]["satisfaction_rating"] = {"score": "bad", "comment": "slow"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vendor") as raw:
        assert (await raw.post("/_sandbox/tickets", json={"tickets": seeds})).status_code == 201

    api = api_of("helpdesk", app, HELPDESK)
    first = await pages(api, export_pages(api, HELPDESK, start(2)))
    api = api_of("helpdesk", app, HELPDESK)
    resumed = await pages(api, export_pages(api, HELPDESK, BackfillStart(at(0), first[0].after, 2)))

    assert [page.records for page in first] == [2, 2, 1]
    events = [event for page in first for event in page.events]
    assert [e.entity for e in events] == [f"ticket:{i}" for i in range(1, 6)]  # oldest change first
    assert {(e.kind, e.source, e.priority) for e in events} == {("ticket.created", "helpdesk", DEFERRABLE)}
    assert events[0].event_id == "export:1:1970-01-02T00:00:00+00:00"
    assert (events[0].data["status"], events[0].data["satisfaction_score"]) == ("solved", 1)  # bad: 1 of 5
    assert events[1].data["satisfaction_score"] is None
    assert [e.entity for page in resumed for e in page.events] == [f"ticket:{i}" for i in range(3, 6)]


def start(page_size: int, since: float = 0) -> BackfillStart:
    return BackfillStart(at(since), None, page_size)


async def test_marketing_members_become_the_list_events_their_webhooks_would_have_been() -> None:
    clock = FakeClock(10 * DAY)
    app = create_mailchimp_app(SANDBOX, clock=clock)
    members = "/3.0/lists/aud/members"
    statuses = {"old@example.com": "subscribed", "in@example.com": "subscribed", "out@example.com": None}
    statuses |= {"bounced@example.com": "cleaned", "waiting@example.com": "pending"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://vendor",
        auth=("any", SANDBOX.mailchimp_api_key),
    ) as raw:
        for email, status in statuses.items():
            body = {"email_address": email, "status_if_new": status or "subscribed"}
            assert (await raw.put(f"{members}/{subscriber_hash(email)}", json=body)).status_code == 200
            if email == "old@example.com":
                clock.advance(DAY)
        out = {"email_address": "out@example.com", "status": "unsubscribed"}
        await raw.put(f"{members}/{subscriber_hash('out@example.com')}", json=out)

    api = api_of("marketing", app, MARKETING)
    read = await pages(api, member_pages(api, MARKETING, start(2, since=11 * DAY)))

    assert [(page.records, page.after, page.total) for page in read] == [(2, "2", 4), (2, "4", 4)]
    events = {e.data["email"]: e for page in read for e in page.events}
    assert sorted(events) == [
        "bounced@example.com",
        "in@example.com",
        "out@example.com",
    ]  # not old, not pending
    assert {e.kind for e in events.values()} == {"list.subscribe", "list.unsubscribe", "list.cleaned"}
    assert events["out@example.com"].data["reason"] == BY_ADMIN
    assert {(e.source, e.priority) for e in events.values()} == {("marketing-lists", DEFERRABLE)}
    # The webhook Mailchimp fired for the same change is the same event: merged once.
    fired = at(11 * DAY).strftime("%Y-%m-%d %H:%M:%S")
    form = (
        f"type=unsubscribe&fired_at={fired}&data[email]=out@example.com&data[list_id]=aud&data[reason]=manual"
    )
    webhook = LIST_FORMAT.parse("marketing-lists", form.encode())
    assert webhook.event_id == events["out@example.com"].event_id
