"""C-1 as decisions: a helpdesk ticket event → the CRM ticket, the contact's satisfaction and
health score, and the reviews they call for, planned without a database."""

from decimal import Decimal
from typing import Any

from cdc_sync.model.writes import RowUpdate
from tests.unit.inbound.fake_crm import AT, EARLIER, LATER, FakeCrm, event

TICKET = {
    "id": 9,
    "external_id": "ZD-1",
    "contact_id": 11,
    "status": "Open",
    "priority": "Normal",
    "channel": "Email",
    "csat": None,
    "updated_at": EARLIER,
    "sync_origin": None,
}
CONTACT = {
    "id": 11,
    "csat_last": None,
    "health_score": Decimal("80.00"),
    "updated_at": EARLIER,
    "sync_origin": None,
}


def crm(**ticket: Any) -> FakeCrm:
    return FakeCrm({"tickets": [{**TICKET, **ticket}], "contacts": [dict(CONTACT)]})


def rated(score: int | None, status: str = "solved", ticket_id: str = "ZD-1") -> Any:
    data = {"ticket_id": ticket_id, "status": status, "priority": "high", "satisfaction_score": score}
    return event("helpdesk", "ticket.satisfaction_rated", f"ticket:{ticket_id}", data)


def test_a_solved_ticket_with_poor_satisfaction_updates_ticket_and_profile_and_asks_for_review() -> None:
    plan = crm().plan(rated(1), "helpdesk")

    assert plan.status == "done"
    solved = {"resolution_summary": "2026-11-23T10:00Z Resolved", "closed_at": AT}
    assert plan.updates == [
        RowUpdate("tickets", "id", 9, {"status": "Resolved", "priority": "High", "csat": 20}),
        RowUpdate("tickets", "id", 9, solved),  # the case's lifecycle (cases.lifecycle)
        RowUpdate("contacts", "id", 11, {"csat_last": 20}),  # the CRM's trigger derives health_score
    ]
    assert [a.obj for a in plan.audits] == ["ticket:9", "ticket:9", "contact_service:11", "contact:11"]
    assert [(t.kind, t.role, t.contact_id) for t in plan.tasks] == [("cs_review", "customer_success", 11)]
    assert [(a.kind, a.contact_id) for a in plan.activities] == [("ticket", 11)]


def test_good_satisfaction_asks_for_no_review() -> None:
    plan = crm().plan(rated(5), "helpdesk")
    assert plan.tasks == []
    assert plan.updates[-1].values == {"csat_last": 100}


def test_an_unknown_ticket_is_unmatched_with_a_manual_review() -> None:
    plan = crm().plan(rated(3, ticket_id="ZD-404"), "helpdesk")

    assert plan.status == "unmatched"
    assert plan.updates == []
    assert [(t.kind, t.related) for t in plan.tasks] == [("manual_review", "ticket:ZD-404")]


def test_a_ticket_the_crm_changed_after_the_event_goes_to_review_instead() -> None:
    plan = crm(updated_at=LATER).plan(rated(None, status="pending"), "helpdesk")

    assert plan.status == "conflict"
    assert [(c.table, c.field, c.crm_value, c.vendor_value) for c in plan.conflicts] == [
        ("tickets", "status", "Open", "Pending"),
        ("tickets", "priority", "Normal", "High"),
    ]
    assert plan.updates == []


def test_a_satisfaction_older_than_the_profile_s_leaves_profile_and_health_alone() -> None:
    fake = crm()
    fake.versions[("contacts", "11", "csat_last")] = LATER
    plan = fake.plan(rated(1), "helpdesk")

    assert [u.table for u in plan.updates] == ["tickets", "tickets"]
    assert plan.tasks == []


def test_the_event_time_is_what_later_events_are_judged_by() -> None:
    plan = crm().plan(rated(4), "helpdesk")
    versions = {(v.table, v.key) for v in plan.versions}
    # The contact's service record is created by this event: its fields carry the event's time too.
    assert versions == {("tickets", "9"), ("contacts", "11"), ("contact_service", "11")}
    assert all(v.occurred_at == AT for v in plan.versions)
