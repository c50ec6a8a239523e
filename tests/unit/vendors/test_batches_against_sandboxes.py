"""The delivery engine's batch calls against the vendor sandboxes in-process (ASGI, no sockets):
per-item outcomes, effects once per item, and consent on every batch path."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.sender import Lane
from cdc_sync.events import Op
from cdc_sync.model.delivery import BatchForm, Delivery
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.pipeline import build_routes, plan_event
from cdc_sync.sandbox.server import SandboxSettings
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app
from cdc_sync.vendors.registry import build_destination
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.delivery.test_sender import MemoryHooks
from tests.unit.outbound.test_pipeline import CONFIG, event

SANDBOX = SandboxSettings()
MARKETING = DestinationConfig(
    kind="mailchimp",
    system="marketing",
    base_url="http://vendor",
    list_id="aud",
    credential_env="TEST_MAILCHIMP_KEY",
    tables=("public.contacts", "public.contact_tags", "public.subscriptions"),
    rate_limit_per_s=100_000,
    batch_window_s=0.005,
)
HELPDESK = DestinationConfig(
    kind="zendesk",
    system="helpdesk",
    base_url="http://vendor",
    agent_email="agent@example.com",
    credential_env="TEST_ZENDESK_TOKEN",
    tables=("public.contacts",),
    rate_limit_per_s=100_000,
    batch_window_s=0.005,
)
ROUTES = build_routes(
    CONFIG.model_copy(update={"destinations": {"marketing": MARKETING, "helpdesk": HELPDESK}})
)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MAILCHIMP_KEY", SANDBOX.mailchimp_api_key)
    monkeypatch.setenv("TEST_ZENDESK_TOKEN", SANDBOX.zendesk_api_token)


def contact(n: int) -> dict[str, Any]:
    return {"id": n, "first_name": "P", "last_name": str(n), "email": f"p{n}@example.com", "country": "DE"}


def planned(
    destination: str, table: str, op: Op, rows: list[dict[str, Any]], lookups: Lookups
) -> list[Delivery]:
    plans = [
        plan_event(event(table, op, row, lsn=1000 + i), ROUTES, lambda e: 1, {"*": "crm"}, lookups)
        for i, row in enumerate(rows)
    ]
    return [d for plan in plans for d in plan.deliveries if d.destination == destination]


def deliver(app: Any, config: DestinationConfig, name: str, deliveries: list[Delivery]) -> MemoryHooks:
    hooks = MemoryHooks()

    async def go() -> None:
        lane = Lane(config, build_destination(name, config, httpx.ASGITransport(app=app)), hooks)
        for delivery in deliveries:
            lane.submit(delivery, lambda: None)
        await lane.drain()
        await lane.destination.aclose()

    asyncio.run(go())
    return hooks


def vendor(app: Any, auth: tuple[str, str]) -> Callable[..., Any]:
    def call(method: str, path: str, body: Any = None) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://v") as c:
                response = await c.request(method, path, json=body, auth=auth)
                return response.json() if response.content else None

        return asyncio.run(go())

    return call


def effects(app: Any) -> dict[str, Any]:
    return vendor(app, ("", ""))("GET", "/_sandbox/effects?summary=true")  # type: ignore[no-any-return]


def test_zendesk_users_go_as_jobs_and_one_invalid_user_is_the_only_dead_letter() -> None:
    app = create_zendesk_app(SANDBOX)
    deliveries = planned("helpdesk", "public.contacts", "c", [contact(n) for n in range(1, 151)], Lookups())
    form = deliveries[41].request.batch
    assert form is not None
    deliveries[41] = deliveries[41].model_copy(
        update={
            "request": deliveries[41].request.model_copy(
                update={"batch": BatchForm(group=form.group, item={**form.item, "email": "not-an-address"})}
            )
        }
    )
    hooks = deliver(app, HELPDESK, "helpdesk", deliveries)
    assert hooks.dead == [deliveries[41].idempotency_key]
    assert len([a for a in hooks.attempts if a[2] == "ok"]) == 149
    summary = effects(app)
    assert summary["keys"] == 149 and summary["duplicated_keys"] == 0
    requests = vendor(app, ("", ""))("GET", "/_sandbox/requests")["requests"]
    assert sum(1 for r in requests if r["path"].endswith("create_or_update_many")) == 2  # 100 + 50


def test_one_refused_member_of_500_subscription_changes_is_the_only_dead_letter() -> None:
    app = create_mailchimp_app(SANDBOX)
    call = vendor(app, ("cdc-sync", SANDBOX.mailchimp_api_key))
    people = {n: contact(n) for n in range(1, 501)}
    for n in people:
        status = "unsubscribed" if n == 77 else "transactional"
        call(
            "PUT",
            f"/3.0/lists/aud/members/{subscriber_hash(f'p{n}@example.com')}",
            {"email_address": f"p{n}@example.com", "status_if_new": status},
        )
    rows = [
        {"id": n, "contact_id": n, "status": "subscribed", "consent_timestamp": "2026-12-01T00:00:00+00:00"}
        for n in people
    ]
    deliveries = planned("marketing", "public.subscriptions", "c", rows, Lookups(contacts=people))
    hooks = deliver(app, MARKETING, "marketing", deliveries)
    assert hooks.dead == [deliveries[76].idempotency_key]
    assert len([a for a in hooks.attempts if a[2] == "ok"]) == 499
    refused = call("GET", f"/3.0/lists/aud/members/{subscriber_hash('p77@example.com')}")
    assert refused["status"] == "unsubscribed"


def test_new_contacts_batch_but_an_unsubscribed_member_is_never_resubscribed() -> None:
    app = create_mailchimp_app(SANDBOX)
    call = vendor(app, ("cdc-sync", SANDBOX.mailchimp_api_key))
    gone = f"/3.0/lists/aud/members/{subscriber_hash('p3@example.com')}"
    call("PUT", gone, {"email_address": "p3@example.com", "status_if_new": "unsubscribed"})
    people = [contact(n) for n in range(1, 11)]
    hooks = deliver(
        app, MARKETING, "marketing", planned("marketing", "public.contacts", "c", people, Lookups())
    )
    assert hooks.dead == []
    assert call("GET", gone)["status"] == "unsubscribed"  # fell back to PUT status_if_new: untouched
    assert call("GET", gone)["merge_fields"]["LNAME"] == "3"  # and its master data is current
    others = [call("GET", f"/3.0/lists/aud/members/{subscriber_hash(f'p{n}@example.com')}") for n in (1, 10)]
    assert [member["status"] for member in others] == ["transactional", "transactional"]
    assert effects(app)["duplicated_keys"] == 0


def test_tags_become_segment_membership_once_each() -> None:
    app = create_mailchimp_app(SANDBOX)
    call = vendor(app, ("cdc-sync", SANDBOX.mailchimp_api_key))
    people = {n: contact(n) for n in range(1, 21)}
    rows = [{"contact_id": n, "tag_id": 5} for n in people]
    deliveries = planned(
        "marketing", "public.contact_tags", "c", rows, Lookups(contacts=people, tags={5: "vip"})
    )
    hooks = deliver(app, MARKETING, "marketing", deliveries)
    assert hooks.dead == []
    tags = call("GET", f"/3.0/lists/aud/members/{subscriber_hash('p20@example.com')}")["tags"]
    assert [tag["name"] for tag in tags] == ["vip"]
    segments = call("GET", "/3.0/lists/aud/segments?type=static")["segments"]
    assert [(s["name"], s["member_count"]) for s in segments] == [("vip", 20)]
    assert effects(app)["duplicated_keys"] == 0


@pytest.mark.parametrize("vendor_kind", ["marketing", "helpdesk"])
def test_a_change_re_sent_another_way_takes_effect_once(vendor_kind: str) -> None:
    """After a crash or rewind a change goes again, alone or in another batch: same key, one effect."""
    app = create_zendesk_app(SANDBOX) if vendor_kind == "helpdesk" else create_mailchimp_app(SANDBOX)
    config = HELPDESK if vendor_kind == "helpdesk" else MARKETING
    first = planned(vendor_kind, "public.contacts", "c", [contact(n) for n in range(1, 6)], Lookups())
    later = planned(vendor_kind, "public.contacts", "c", [contact(n) for n in range(6, 9)], Lookups())
    deliver(app, config, vendor_kind, first)  # a batch of five
    deliver(app, config, vendor_kind, first[:1])  # the first again, alone
    deliver(app, config, vendor_kind, later[:1])  # alone first ...
    deliver(app, config, vendor_kind, later)  # ... then in a batch with others
    summary = effects(app)
    assert summary["duplicated_keys"] == 0 and summary["keys"] == 8
