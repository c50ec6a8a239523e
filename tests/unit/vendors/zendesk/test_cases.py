"""The helpdesk lifecycle as decisions: created → a CRM case linked to the requester's contact and
open opportunity; comments → interactions and the first-response time; solved → the figures on
the case, the opportunity and the contact's service record; solved then opened → reopened."""

from datetime import timedelta
from typing import Any

from cdc_sync.vendors.zendesk.cases import lifecycle
from tests.unit.inbound.fake_crm import AT, EARLIER, FakeCrm, event

OPENED = AT - timedelta(hours=2)
CONTACT = {"id": 11, "csat_last": None, "health_score": None, "updated_at": EARLIER, "sync_origin": None}
OPPORTUNITIES = [
    {"id": 70, "contact_id": 11, "stage": "closed_won", "updated_at": AT},
    {"id": 71, "contact_id": 11, "stage": "proposal", "updated_at": EARLIER},
]


def helpdesk(kind: str, at: Any = AT, **data: Any) -> Any:
    base = {"ticket_id": "4711", "status": "new", "priority": "normal", "channel": "email", "tags": []}
    return event("helpdesk", f"ticket.{kind}", "ticket:4711", {**base, **data}, at)


def crm() -> FakeCrm:
    fake = FakeCrm({"contacts": [dict(CONTACT)], "opportunities": [dict(o) for o in OPPORTUNITIES]})
    fake.refs[("helpdesk", "9001")] = "contact:11"  # learnt from create_or_update_many's answer
    return fake


def created(fake: FakeCrm) -> None:
    opened = helpdesk(
        "created", OPENED, requester_ref="9001", subject="Printer on fire", opened_at=OPENED.isoformat()
    )
    fake.next_id = 499  # the case's id: 500
    fake.play(opened, "helpdesk")
    fake.tables["tickets"][0].update(created_at=OPENED, version=1, sync_origin="helpdesk")


def test_a_ticket_created_in_the_helpdesk_becomes_a_case_of_the_requester_and_open_opportunity() -> None:
    fake = crm()
    plan = fake.plan(
        helpdesk(
            "created",
            requester_ref="9001",
            subject="Printer on fire",
            category="incident",
            queue="360001",
            assignee_ref="5",
            sla_due_at=(AT + timedelta(days=1)).isoformat(),
        ),
        "helpdesk",
    )
    assert plan.status == "done"
    [case] = [new.values for new in plan.creates]
    assert {k: case[k] for k in ("external_id", "contact_id", "opportunity_id", "status", "category")} == {
        "external_id": "4711",
        "contact_id": 11,
        "opportunity_id": 71,  # the open one; the won one is closed
        "status": "Open",
        "category": "incident",
    }
    assert (case["queue"], case["assignee_ref"], case["sla_due_at"]) == (
        "360001",
        "5",
        AT + timedelta(days=1),
    )
    assert [(a.kind, a.contact_id) for a in plan.activities] == [("ticket", 11)]


def test_a_requester_cdc_sync_never_delivered_leaves_the_case_without_a_contact() -> None:
    plan = crm().plan(helpdesk("created", requester_ref="31337"), "helpdesk")
    assert plan.creates[0].values["contact_id"] is None


def test_a_second_ticket_created_for_a_known_ticket_changes_it_instead() -> None:
    fake = crm()
    created(fake)
    plan = fake.plan(helpdesk("created", status="pending"), "helpdesk")
    assert plan.creates == []
    assert plan.updates[0].values == {"status": "Pending"}


def test_an_older_snapshot_of_a_created_ticket_is_stale_for_the_fields_its_creation_set() -> None:
    """A backfilled export (or a late retry) older than the event that created the case."""
    fake = crm()
    created(fake)
    plan = fake.plan(helpdesk("created", OPENED - timedelta(days=30), status="open"), "helpdesk")
    assert (plan.status, plan.creates, plan.updates) == ("stale", [], [])


def test_the_first_public_agent_reply_sets_the_first_response_time_once() -> None:
    fake = crm()
    created(fake)
    comment = {"id": "c1", "body": "<p>Card <b>4111 1111 1111 1111</b>?</p>", "public": True}
    by_customer = {**comment, "id": "c0", "author_ref": "9001", "author_name": "Ann", "by_agent": False}
    by_agent = {**comment, "author_ref": "5", "author_name": "Bo", "by_agent": True}
    first = fake.play(
        helpdesk("comment_added", OPENED + timedelta(minutes=5), comment=by_customer), "helpdesk"
    )
    reply = fake.play(helpdesk("comment_added", OPENED + timedelta(minutes=30), comment=by_agent), "helpdesk")

    assert first.updates == []  # the customer's own words are no response
    [interaction] = reply.creates
    assert interaction.values["notes"] == "Card ****** **** **** 1111**?"  # Markdown bold, the card masked
    assert (interaction.values["case_id"], interaction.values["agent_ref"]) == (500, "5")
    assert reply.updates[0].values == {"first_response_ms": 30 * 60 * 1000}
    fake.tables.setdefault("interactions", []).append({"external_id": "c1"})
    again = fake.plan(helpdesk("comment_added", AT, comment=by_agent), "helpdesk")
    assert (again.status, again.creates) == ("done", [])


def test_a_solved_case_writes_its_figures_back_to_the_opportunity_and_the_contact() -> None:
    fake = crm()
    created(fake)
    fake.tables["tickets"][0]["first_response_ms"] = 1800000
    plan = fake.plan(
        helpdesk("status_changed", status="solved", tags=["resolution_replaced_toner"]), "helpdesk"
    )

    by_table = {(u.table, tuple(sorted(u.values))): u.values for u in plan.updates}
    case = by_table[("tickets", ("closed_at", "resolution_code", "resolution_summary", "time_to_resolve_ms"))]
    assert case == {
        "time_to_resolve_ms": 2 * 3600 * 1000,
        "resolution_code": "replaced_toner",
        "resolution_summary": "2026-11-23T10:00Z Resolved (replaced_toner)",
        "closed_at": AT,
    }
    [opportunity] = [u for u in plan.updates if u.table == "opportunities"]
    assert (opportunity.key, opportunity.values["service_first_response_ms"]) == (71, 1800000)
    assert opportunity.values["service_time_to_resolve_ms"] == 2 * 3600 * 1000
    assert [(n.table, n.values) for n in plan.creates] == [
        ("contact_service", {"contact_id": 11, "last_service_at": AT, "last_case_id": 500})
    ]


def test_solved_then_opened_is_reopened_and_a_second_solve_appends_its_line() -> None:
    ticket = {"status": "Resolved", "resolution_summary": "2026-11-23T08:00Z Resolved", "created_at": OPENED}
    assert lifecycle(ticket, "Open", AT, []).ticket == {"reopened": True, "closed_at": None}
    again = lifecycle({**ticket, "status": "Open", "reopened": True}, "Resolved", AT, [])
    assert again.solved
    assert again.ticket["resolution_summary"] == "2026-11-23T08:00Z Resolved\n2026-11-23T10:00Z Resolved"
    assert lifecycle(ticket, "Closed", AT, []).ticket["closed_at"] == AT  # closing a solved case
    assert lifecycle({**ticket, "status": "Closed"}, "Closed", AT, []).ticket == {}


def test_an_unknown_ticket_s_comment_waits_unmatched() -> None:
    comment = {
        "id": "c9",
        "body": "hi",
        "public": True,
        "author_ref": None,
        "author_name": None,
        "by_agent": False,
    }
    plan = crm().plan(helpdesk("comment_added", comment=comment), "helpdesk")
    assert (plan.status, plan.creates) == ("unmatched", [])
