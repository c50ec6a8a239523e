"""The outbound composition for one change: contract, echo, authority, vendor mapping."""

from datetime import UTC, datetime
from typing import Any

import pytest

from cdc_sync.config import AppConfig, DestinationConfig
from cdc_sync.errors import ConfigError, ContractViolation
from cdc_sync.events import ChangeEvent, Op, SourcePosition
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.pipeline import EventPlan, Route, build_routes, lookup_ids, plan_event
from cdc_sync.rules.rollout import in_share
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash

CONFIG = AppConfig(
    destinations={
        "marketing": DestinationConfig(
            kind="mailchimp",
            system="marketing",
            base_url="http://m",
            list_id="aud",
            tables=("public.contacts", "public.contact_tags", "public.subscriptions"),
        ),
        "helpdesk": DestinationConfig(
            kind="zendesk", system="helpdesk", base_url="http://h", tables=("public.contacts",)
        ),
        "hooks": DestinationConfig(
            kind="webhook", system="erp", base_url="http://e", path="/in", tables=("public.contacts",)
        ),
    },
    authority={"*": "crm", "contacts.csat_last": "helpdesk"},
)
ROUTES = build_routes(CONFIG)
CONTACT = {
    "id": 7,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": " Ada@Example.COM ",
    "phone": "030 1234567",
    "country": "Germany",
    "locale": "de_DE",
    "timezone": "europe/berlin",
    "lifecycle_stage": "customer",
    "csat_last": 80,
    "sync_origin": None,
}


def event(
    table: str, op: Op, after: dict[str, Any] | None, before: dict[str, Any] | None = None, lsn: int = 100
) -> ChangeEvent:
    source = SourcePosition(
        topic=f"crm.{table}", partition=0, offset=1, lsn=lsn, tx_id=1, commit_ts=datetime.now(UTC)
    )
    row = after or before or {}
    key = {k: row[k] for k in ("id", "contact_id", "tag_id") if k in row and (k == "id" or "id" not in row)}
    return ChangeEvent(op=op, table=table, key=key, before=before, after=after, source=source, schema_id=1)


NO_LOOKUPS = Lookups()


def plan(change: ChangeEvent, lookups: Lookups = NO_LOOKUPS, contract_ok: bool = True) -> EventPlan:
    def check(_: ChangeEvent) -> int:
        if not contract_ok:
            raise ContractViolation("crm.public.contacts-value: missing field 'email'")
        return 1

    return plan_event(change, ROUTES, check, CONFIG.authority, lookups)


def by_operation(result: EventPlan) -> dict[str, Any]:
    return {f"{d.destination}/{d.operation}": d for d in result.deliveries}


def test_contact_becomes_a_member_a_user_and_an_event_with_normalized_fields() -> None:
    result = by_operation(plan(event("public.contacts", "c", CONTACT)))
    member = result["marketing/member.upsert"].request
    assert member.method == "PUT"
    assert member.path == f"/3.0/lists/aud/members/{subscriber_hash('ada@example.com')}"
    assert member.body is not None and member.body["email_address"] == "ada@example.com"
    assert member.body["status_if_new"] == "transactional"
    assert member.body["merge_fields"] | {} == {
        "FNAME": "Ada",
        "LNAME": "Lovelace",
        "PHONE": "+49301234567",
        "COUNTRY": "DE",
        "STAGE": "Customer",
    }
    assert member.body["language"] == "de"
    user = result["helpdesk/user.create_or_update"].request.body
    assert user is not None and user["user"]["external_id"] == "7"
    assert user["user"]["user_fields"]["timezone"] == "Europe/Berlin"
    assert result["hooks/event"].request.body is not None


def test_fields_owned_by_another_system_are_never_pushed() -> None:
    hook = by_operation(plan(event("public.contacts", "c", CONTACT)))["hooks/event"].request.body
    assert hook is not None
    assert "csat_last" not in hook["data"] and hook["data"]["email"] == " Ada@Example.COM "


def test_idempotency_keys_are_stable_and_distinct() -> None:
    first = [d.idempotency_key for d in plan(event("public.contacts", "u", CONTACT)).deliveries]
    again = [d.idempotency_key for d in plan(event("public.contacts", "u", CONTACT)).deliveries]
    later = [d.idempotency_key for d in plan(event("public.contacts", "u", CONTACT, lsn=101)).deliveries]
    assert first == again
    assert len(set(first)) == len(first)
    assert not set(first) & set(later)


def test_invalid_email_is_rejected_per_destination_with_a_readable_reason() -> None:
    result = plan(event("public.contacts", "c", {**CONTACT, "email": "not-an-email"}))
    assert {r.destination for r in result.rejections} == {"marketing", "helpdesk"}
    assert all("invalid email 'not-an-email'" in r.reason for r in result.rejections)
    assert [d.destination for d in result.deliveries] == ["hooks"]


def test_a_contract_violation_rejects_the_whole_event() -> None:
    result = plan(event("public.contacts", "c", CONTACT), contract_ok=False)
    assert result.deliveries == []
    assert [(r.destination, r.contract) for r in result.rejections] == [(None, True)]


def test_changes_written_for_the_helpdesk_are_not_sent_back_to_it() -> None:
    result = plan(event("public.contacts", "u", {**CONTACT, "sync_origin": "helpdesk"}))
    assert result.echoes == ["helpdesk"]
    assert {d.destination for d in result.deliveries} == {"marketing", "hooks"}


def test_unknown_lifecycle_stage_maps_to_other_and_is_reported() -> None:
    result = plan(event("public.contacts", "c", {**CONTACT, "lifecycle_stage": "martian"}))
    member = by_operation(result)["marketing/member.upsert"].request.body
    assert member is not None and member["merge_fields"]["STAGE"] == "Other"
    assert result.unknown_enums.count("lifecycle_stage") == 2  # marketing and helpdesk


def test_unformatted_phone_is_kept_and_tagged() -> None:
    result = by_operation(plan(event("public.contacts", "c", {**CONTACT, "phone": "call me maybe"})))
    assert result["marketing/member.upsert"].request.body["merge_fields"]["PHONE"] == "call me maybe"
    tags = result["marketing/member.tags.phone"].request.body
    assert tags == {"tags": [{"name": "phone_unformatted", "status": "active"}]}


def test_tagging_ensures_the_member_first_and_untagging_tolerates_absence() -> None:
    lookups = Lookups(contacts={7: {"email": "ada@example.com"}}, tags={3: "high-value-prospect"})
    link = {"contact_id": 7, "tag_id": 3}
    added = plan(event("public.contact_tags", "c", link), lookups).deliveries
    assert [d.operation for d in added] == ["member.ensure", "member.tags"]
    assert {d.entity for d in added} == {"contact:7"}
    assert added[1].request.body == {"tags": [{"name": "high-value-prospect", "status": "active"}]}
    (removed,) = plan(event("public.contact_tags", "d", None, before=link), lookups).deliveries
    assert removed.request.body == {"tags": [{"name": "high-value-prospect", "status": "inactive"}]}
    assert removed.request.not_found_ok
    assert plan(event("public.contact_tags", "c", link)).deliveries == []  # contact already gone


def test_illegal_tags_are_filtered_and_reported() -> None:
    lookups = Lookups(contacts={7: {"email": "ada@example.com"}}, tags={3: "vip <script>"})
    result = plan(event("public.contact_tags", "c", {"contact_id": 7, "tag_id": 3}), lookups)
    assert result.deliveries == [] and result.rejected_tags == [("marketing", "vip <script>")]


def test_unsubscribe_is_pushed_and_resubscribe_needs_evidence() -> None:
    lookups = Lookups(contacts={7: {"email": "ada@example.com"}})
    subscribed = {
        "contact_id": 7,
        "list_id": "aud",
        "status": "subscribed",
        "consent_source": None,
        "consent_timestamp": None,
        "unsubscribed_at": None,
    }
    unsubscribed = {
        **subscribed,
        "status": "unsubscribed",
        "unsubscribed_at": datetime(2026, 5, 1, tzinfo=UTC),
    }
    (out,) = plan(event("public.subscriptions", "u", unsubscribed, before=subscribed), lookups).deliveries
    assert out.request.body == {
        "email_address": "ada@example.com",
        "status_if_new": "unsubscribed",
        "status": "unsubscribed",
    }
    refused = plan(event("public.subscriptions", "u", subscribed, before=unsubscribed), lookups)
    assert refused.deliveries == [] and "re-subscribe of contact 7 refused" in refused.rejections[0].reason


def test_a_destination_that_cannot_map_a_table_is_a_config_error() -> None:
    bad = AppConfig(
        destinations={
            "helpdesk": DestinationConfig(
                kind="zendesk", system="helpdesk", base_url="x", tables=("public.tags",)
            )
        }
    )
    with pytest.raises(ConfigError, match=r"cannot take public\.tags"):
        build_routes(bad)


def test_lookups_are_asked_only_for_the_contacts_and_tags_rows_name() -> None:
    routes: dict[str, list[Route]] = {table: [] for table in ("public.contact_tags", "public.dial_tasks")}
    events = [
        event("public.contact_tags", "c", {"contact_id": 7, "tag_id": 3}),
        event("public.dial_tasks", "c", {"id": 1, "contact_id": None, "task_id": "t-1"}),  # a bare number
        event("public.dial_tasks", "c", {"id": 2, "contact_id": 8, "task_id": "t-2"}),
        event("public.orders", "c", {"id": 3, "contact_id": 9}),  # no route: nothing to look up
    ]
    assert lookup_ids(events, routes) == ({7, 8}, {3})


def test_a_contact_outside_a_destinations_rollout_is_not_sent_there_nor_its_tags() -> None:
    inside = next(c for c in range(1, 1000) if in_share(f"contact:{c}", 0.3))
    outside = next(c for c in range(1, 1000) if not in_share(f"contact:{c}", 0.3))
    shares = {"marketing": 0.3}
    check = lambda _: 1  # noqa: E731
    for contact, sent in ((inside, True), (outside, False)):
        changes = [
            event("public.contacts", "c", {**CONTACT, "id": contact}),
            event("public.contact_tags", "c", {"contact_id": contact, "tag_id": 3}),
        ]
        contact_plan, tag_plan = (
            plan_event(change, ROUTES, check, CONFIG.authority, NO_LOOKUPS, shares) for change in changes
        )
        assert any(d.destination == "marketing" for d in contact_plan.deliveries) is sent
        for result in (contact_plan, tag_plan):
            assert result.outside_rollout == ([] if sent else ["marketing"])
    helpdesk = plan_event(
        event("public.contacts", "c", {**CONTACT, "id": outside}),
        ROUTES,
        check,
        CONFIG.authority,
        NO_LOOKUPS,
        shares,
    )
    assert {d.destination for d in helpdesk.deliveries} == {"helpdesk", "hooks"}  # fully rolled out


def test_a_priority_correction_in_scope_is_the_only_ticket_change_the_helpdesk_gets() -> None:
    config = CONFIG.model_copy(
        update={
            "destinations": {
                "helpdesk": DestinationConfig(
                    kind="zendesk", system="helpdesk", base_url="http://h", tables=("public.tickets",)
                )
            },
            "authority": {"*": "crm", "tickets.*": "helpdesk"},
            "corrections": {"tickets.priority": ("escalation",)},
        }
    )
    routes = build_routes(config)
    ticket = {"id": 5, "external_id": "901", "subject": "Printer", "priority": "Normal", "status": "Open"}
    ticket |= {"priority_correction": None, "helpdesk_updated_at": "2026-01-05T08:00:00Z"}

    def planned(after: dict[str, Any]) -> EventPlan:
        change = event("public.tickets", "u", after, before=ticket)
        return plan_event(change, routes, lambda _: 1, config.authority, NO_LOOKUPS)

    (correction,) = planned({**ticket, "priority": "Urgent", "priority_correction": "escalation"}).deliveries
    assert (correction.request.method, correction.request.path) == ("PUT", "/api/v2/tickets/901")
    assert correction.request.body == {
        "ticket": {"priority": "urgent", "safe_update": True, "updated_stamp": "2026-01-05T08:00:00Z"}
    }
    assert correction.request.correction is not None and correction.request.correction.crm_value == "Urgent"
    assert planned({**ticket, "priority": "Urgent"}).deliveries == []  # no reason: the helpdesk's field
    assert planned({**ticket, "status": "Closed"}).deliveries == []  # never the helpdesk's other fields
