"""The helpdesk lifecycle on the real stack, on Zendesk's own webhook shapes: a CRM contact pushed to
the helpdesk sandbox (its user id learnt from the job's answer) → a ticket that contact opens in
the helpdesk becomes a CRM case → an agent's reply becomes an interaction → solved: the figures
on the case, the opportunity and the contact's service record. A satisfaction rating that comes
through the trigger webhook before its ticket waits unmatched and applies once the ticket exists."""

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from cdc_sync.store.tables import conflicts
from cdc_sync.vendors.zendesk.signing import zendesk_signed_headers
from tests.integration.outbound_fixtures import Process, Runner, sandbox, wait_for
from tests.integration.test_inbound import WEBHOOKS, applied, emit, inbox_status, one
from tests.integration.test_marketing import one_all
from tests.integration.test_outbound import ZENDESK_AUTH, request_count, requests_to


def tag() -> str:
    return uuid.uuid4().hex[:8]


def zulu(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_event(kind: str, ticket: dict[str, Any], at: datetime, **event: Any) -> dict[str, Any]:
    """A Zendesk event webhook as Zendesk sends it: `detail` is the ticket, people by Zendesk id."""
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "id": str(uuid.uuid4()),
        "time": zulu(at),
        "account_id": 9242270,
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket['id']}",
        "detail": ticket,
        "event": event,
    }


def helpdesk_user_of(state: Engine, contact: int) -> str:
    def probe() -> str | None:
        with state.connect() as conn:
            query = text(
                "SELECT vendor_ref FROM cdc_sync.vendor_refs WHERE system = 'helpdesk' AND entity = :e"
            )
            return conn.execute(query, {"e": f"contact:{contact}"}).scalar()

    return wait_for(f"the helpdesk user of contact {contact}", probe, timeout_s=60)


def case_of(crm: Engine, ticket_id: str) -> dict[str, Any]:
    with crm.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM cases WHERE external_id = :t"), {"t": ticket_id})
            .mappings()
            .one()
        )
    return dict(row)


def test_a_helpdesk_ticket_becomes_a_case_and_its_solve_is_written_back(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    contact = one(
        crm,
        "INSERT INTO contacts (email, first_name) VALUES (:e, 'Ann') RETURNING id",
        e=f"zd-{tag()}@example.com",
    )[0]
    opportunity = one(
        crm,
        "INSERT INTO opportunities (contact_id, name, stage) VALUES (:c, 'Renewal', 'proposal') RETURNING id",
        c=contact,
    )[0]
    requester = helpdesk_user_of(state, contact)
    opened = datetime.now(UTC) - timedelta(hours=2)
    ticket: dict[str, Any] = {
        "id": str(int(uuid.uuid4().int % 10**9)),
        "status": "new",
        "priority": "normal",
        "requester_id": requester,
        "assignee_id": "7001",
        "group_id": "360001",
        "type": "incident",
        "subject": "Printer on fire",
        "tags": [],
        "via": {"channel": "email"},
        "created_at": zulu(opened),
        "updated_at": zulu(opened),
    }
    created = ticket_event("created", ticket, opened, meta={"sequence": {"id": "s1", "position": 1}})
    assert emit("helpdesk", "helpdesk", created)["status"] == 200
    assert applied(state, "helpdesk", created["id"])[0] == "done"
    case = case_of(crm, ticket["id"])
    assert (case["contact_id"], case["opportunity_id"], case["status"]) == (contact, opportunity, "Open")
    assert (case["queue"], case["category"], case["assignee_ref"]) == ("360001", "incident", "7001")

    reply = {
        "id": f"c-{tag()}",
        "body": "<p>Please confirm card <b>4111 1111 1111 1111</b></p>",
        "is_public": True,
        "author": {"id": "7001", "is_staff": True, "name": "Bo"},
    }
    answered = opened + timedelta(minutes=30)
    commented = ticket_event("comment_added", {**ticket, "status": "open"}, answered, comment=reply)
    assert emit("helpdesk", "helpdesk", commented)["status"] == 200
    assert applied(state, "helpdesk", commented["id"])[0] == "done"
    notes, channel, case_id = one(
        crm, "SELECT notes, channel, case_id FROM interactions WHERE external_id = :x", x=reply["id"]
    )
    assert (notes, channel, case_id) == ("Please confirm card ****** **** **** 1111**", "Email", case["id"])

    solved_at = opened + timedelta(hours=2)
    solved = ticket_event(
        "status_changed", {**ticket, "status": "solved", "tags": ["resolution_replaced_toner"]}, solved_at,
        previous="open", current="solved",
    )  # fmt: skip
    assert emit("helpdesk", "helpdesk", solved)["status"] == 200
    assert applied(state, "helpdesk", solved["id"])[0] == "done"
    case = case_of(crm, ticket["id"])
    assert (case["status"], case["resolution_code"], case["reopened"]) == (
        "Resolved",
        "replaced_toner",
        False,
    )
    assert (case["first_response_ms"], case["time_to_resolve_ms"]) == (30 * 60_000, 2 * 3600_000)
    assert case["closed_at"] == solved_at.replace(microsecond=0)
    service = one(
        crm,
        "SELECT service_resolution_code, service_first_response_ms, service_time_to_resolve_ms "
        "FROM opportunities WHERE id = :o",
        o=opportunity,
    )
    assert tuple(service) == ("replaced_toner", 30 * 60_000, 2 * 3600_000)
    last = one(
        crm, "SELECT last_service_at, last_case_id FROM contact_service WHERE contact_id = :c", c=contact
    )
    assert tuple(last) == (solved_at.replace(microsecond=0), case["id"])
    with pytest.raises(IntegrityError, match="immutable"):
        one(crm, "UPDATE tickets SET external_id = 'other' WHERE id = :i", i=case["id"])


def post_satisfaction(body: dict[str, Any]) -> httpx.Response:
    """The satisfaction trigger's webhook, signed as Zendesk signs it (its own secret)."""
    raw = orjson.dumps(body)
    headers = zendesk_signed_headers(
        os.environ["CDC_SYNC_HELPDESK_CSAT_SECRET"], zulu(datetime.now(UTC)), raw
    )
    return httpx.post(
        f"{WEBHOOKS}/helpdesk-csat", content=raw, headers={"content-type": "application/json", **headers}
    )


def test_a_rating_that_comes_before_its_ticket_applies_once_the_ticket_exists(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    contact = one(
        crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=f"csat-{tag()}@example.com"
    )[0]
    ticket_id, now = str(int(uuid.uuid4().int % 10**9)), datetime.now(UTC)
    rating = {
        "id": f"csat-{ticket_id}-good",
        "ticket_id": ticket_id,
        "requester_external_id": str(contact),
        "rating": "Good",
        "comment": "",
        # {{ticket.updated_at_with_timestamp}} has minutes only: the next minute is surely after
        # the contact's creation (an earlier time would make the CRM's row newer: a conflict).
        "updated_at": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ"),
    }
    answer = post_satisfaction(rating)
    assert answer.status_code == 200, answer.text
    assert applied(state, "helpdesk-csat", rating["id"])[0] == "unmatched"

    ticket = {"id": ticket_id, "status": "open", "subject": "Late parcel", "via": {"channel": "chat"}}
    created = ticket_event("created", ticket, now - timedelta(minutes=5))
    created["detail"]["requester_external_id"] = str(contact)  # as the trigger names the requester
    assert emit("helpdesk", "helpdesk", created)["status"] == 200
    assert applied(state, "helpdesk", created["id"])[0] == "done"

    def rated() -> tuple[str, str] | None:
        status = inbox_status(state, "helpdesk-csat", rating["id"])
        return status if status and status[0] == "done" else None

    wait_for("the waiting rating applied", rated, timeout_s=30)
    csat, contact_of_case = one(
        crm, "SELECT csat, contact_id FROM tickets WHERE external_id = :t", t=ticket_id
    )
    assert (csat, contact_of_case) == (100, contact)
    assert one(crm, "SELECT csat_last FROM contacts WHERE id = :c", c=contact)[0] == 100
    reviews = one(
        crm, "SELECT count(*) FROM tasks WHERE kind = 'manual_review' AND related_id = :t", t=ticket_id
    )[0]
    assert reviews == 1  # asked once while it waited, not again on the retry


def helpdesk_ticket(ticket_id: int) -> dict[str, Any]:
    return dict(sandbox("helpdesk", "GET", f"/api/v2/tickets/{ticket_id}", auth=ZENDESK_AUTH)["ticket"])


def correct_priority(crm: Engine, case: int, priority: str, reason: str | None) -> None:
    """An account manager changes the case's priority in the CRM, saying why (or not)."""
    with crm.begin() as conn:
        conn.execute(
            text(
                "UPDATE tickets SET priority = :p, priority_correction = :r, "
                "priority_corrected_by = 'am@example.com' WHERE id = :c"
            ),
            {"p": priority, "r": reason, "c": case},
        )


def test_a_crm_priority_correction_reaches_the_helpdesk_and_a_racing_change_becomes_a_conflict(
    crm: Engine, state: Engine, runner: Runner
) -> None:
    ticket_id, seen = int(uuid.uuid4().int % 10**9), "2026-01-05T08:00:00Z"
    seed = {"id": ticket_id, "subject": "Invoice wrong", "priority": "normal", "updated_at": seen}
    sandbox("helpdesk", "POST", "/_sandbox/tickets", json={"tickets": [seed]})
    case = one(
        crm,
        "INSERT INTO tickets (external_id, subject, priority, helpdesk_updated_at) "
        "VALUES (:t, 'Invoice wrong', 'Normal', :at) RETURNING id",
        t=str(ticket_id),
        at=seen,
    )[0]

    before = request_count("helpdesk")
    correct_priority(crm, case, "Low", None)  # out of scope: the helpdesk's field, not a correction
    correct_priority(crm, case, "Urgent", "escalation")
    wait_for("the correction at the helpdesk", lambda: helpdesk_ticket(ticket_id)["priority"] == "urgent")
    path = f"/api/v2/tickets/{ticket_id}"
    puts = [r for r in requests_to("helpdesk", before) if r["path"] == path and r["method"] == "PUT"]
    assert [r["body"]["ticket"] for r in puts] == [
        {"priority": "urgent", "safe_update": True, "updated_stamp": seen}
    ]  # the out-of-scope change was never sent

    # The helpdesk's webhook for it brings its updated_at back (as the writer would apply it); then
    # an agent changes the priority in the helpdesk before the next CRM correction is sent.
    after_correction = helpdesk_ticket(ticket_id)["updated_at"]
    with crm.begin() as conn:
        conn.execute(
            text("UPDATE tickets SET helpdesk_updated_at = :at WHERE id = :c"),
            {"at": after_correction, "c": case},
        )
    time.sleep(1.1)  # Zendesk's updated_at has seconds: the agent's change must be a later one
    agent = {"ticket": {"priority": "low"}}
    sandbox("helpdesk", "PUT", f"/api/v2/tickets/{ticket_id}", json=agent, auth=ZENDESK_AUTH)
    correct_priority(crm, case, "High", "escalation")

    def refused() -> dict[str, Any] | None:
        with state.connect() as conn:
            # Through the table: its values are stored sealed (encryption at rest).
            found = conn.execute(
                select(conflicts).where(conflicts.c.kind == "crm_correction", conflicts.c.row_id == case)
            )
            return next((dict(row) for row in found.mappings()), None)

    conflict = wait_for("the refused correction as a conflict", refused)
    assert (conflict["field"], conflict["crm_value"], conflict["status"]) == ("priority", "High", "open")
    assert "409" in conflict["reason"] and helpdesk_ticket(ticket_id)["priority"] == "low"  # not overwritten

    resolved = runner.cli("conflicts", "resolve", str(conflict["id"]), "--keep", "crm")
    assert resolved.returncode == 0, resolved.stderr
    assert helpdesk_ticket(ticket_id)["priority"] == "high"
    assert (refused() or {})["status"] == "resolved"
    (audited,) = json.loads(
        runner.cli("audit", "--object", f"ticket:{case}", "--action", "conflict.resolve", "--json").stdout
    )
    assert (audited["after"], audited["details"]["keep"]) == ({"priority": "High"}, "crm")


def backfill_cursor(state: Engine) -> dict[str, Any] | None:
    with state.connect() as conn:
        found = conn.execute(text("SELECT * FROM cdc_sync.backfill_cursors WHERE name = 'helpdesk:helpdesk'"))
        return next((dict(row) for row in found.mappings()), None)


def test_a_backfill_of_10k_tickets_resumes_after_kill_9_and_merges_each_once(
    crm: Engine, state: Engine, inbound: Process, runner: Runner, tmp_path: Any
) -> None:
    """10,000 tickets of last year in the helpdesk's export; the backfill is killed -9 after a few
    pages and run again: it goes on after its last stored page, every ticket becomes exactly one
    CRM case, and a ticket the CRM already took a newer change of keeps that change."""
    with state.begin() as conn:  # a cursor another run left would make this one resume elsewhere
        conn.execute(text("DELETE FROM cdc_sync.backfill_cursors WHERE name = 'helpdesk:helpdesk'"))
    base, count = 7 * 10**8 + int(uuid.uuid4().int % 10**7) * 10, 10_000
    start = datetime(2025, 3, 1, tzinfo=UTC)
    statuses = ("open", "pending", "solved")
    seeds = [
        {
            "id": base + i,
            "subject": f"Backfilled {i}",
            "status": statuses[i % 3],
            "priority": "normal",
            "created_at": zulu(start),
            "updated_at": zulu(start + timedelta(minutes=i)),
        }
        for i in range(count)
    ]
    sandbox("helpdesk", "POST", "/_sandbox/tickets", json={"tickets": seeds})
    # The CRM has a newer change of the first ticket already (its live webhook came through).
    newer = ticket_event("created", {"id": str(base), "status": "hold", "subject": "Live"}, datetime.now(UTC))
    assert emit("helpdesk", "helpdesk", newer)["status"] == 200
    assert applied(state, "helpdesk", newer["id"])[0] == "done"

    args = ["--config", str(runner.config), "backfill", "helpdesk", "--since", zulu(start)]
    slow = Process([*args, "--per-minute", "120", "--page-size", "500"], tmp_path / "backfill.log")
    slow.start()

    def a_few_pages() -> dict[str, Any] | None:
        cursor = backfill_cursor(state)
        return cursor if cursor and cursor["pages"] >= 3 else None

    stopped_at = wait_for("a few pages stored", a_few_pages)
    slow.kill()
    interrupted = backfill_cursor(state)
    assert interrupted is not None and interrupted["pages"] < count // 500, f"not interrupted: {interrupted}"
    assert interrupted["pages"] >= stopped_at["pages"]

    resumed = runner.cli(*args[2:], "--per-minute", "6000", "--page-size", "500", "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["resumed_after"] == interrupted["position"]
    assert report["pages"] < count // 500  # went on after the stored pages, not from the start
    assert backfill_cursor(state) is None  # complete: forgotten

    ids = [str(base + i) for i in range(count)]

    def merged() -> list[Any] | None:
        with state.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT entity, count(*) AS events, bool_and(status IN ('done', 'stale')) AS done, "
                    "string_agg(status, ',') AS statuses "
                    "FROM cdc_sync.inbox WHERE source = 'helpdesk' AND entity = ANY(CAST(:e AS text[])) "
                    "AND event_id LIKE 'export:%' GROUP BY entity"
                ),
                {"e": [f"ticket:{i}" for i in ids]},
            ).all()
        return list(rows) if len(rows) == count and all(row.done for row in rows) else None

    rows = wait_for("every backfilled ticket merged", merged, timeout_s=300)
    assert {row.events for row in rows} == {1}  # each ticket's export once, though pages were re-read
    assert {row.entity for row in rows if row.statuses == "stale"} == {f"ticket:{base}"}
    cases = one_all(
        crm, "SELECT external_id, status FROM tickets WHERE external_id = ANY(CAST(:e AS text[]))", e=ids
    )
    assert len(cases) == count and len({external_id for external_id, _ in cases}) == count
    assert dict(cases)[str(base)] == "OnHold"  # the live change is newer than the export's: it stands
    trail = runner.cli(
        "audit", "--object", "backfill:helpdesk:helpdesk", "--action", "backfill.helpdesk", "--json"
    )
    audited = json.loads(trail.stdout)[0]  # newest first (the killed run audited nothing)
    assert audited["after"]["resumed_after"] == interrupted["position"]
