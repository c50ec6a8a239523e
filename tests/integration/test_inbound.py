"""The inbound side on the real stack: vendor sandboxes emit signed webhooks to `cdc-sync serve`,
the separate writer applies them to the CRM (scenarios B-1, C-1, subscriptions, clicks)."""

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from cdc_sync.signing import signed_headers
from tests.integration.outbound_fixtures import WRITER_METRICS_PORT, Process, Runner, sandbox, wait_for

WEBHOOKS = "http://127.0.0.1:8000/webhooks"
LIST_SECRET = "sandbox-marketing-list-secret"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def emit(vendor: str, source: str, event: dict[str, Any], query: str = "", **extra: Any) -> dict[str, Any]:
    answer = sandbox(
        vendor,
        "POST",
        "/_sandbox/emit",
        json={"event": event, "target": f"{WEBHOOKS}/{source}{query}", **extra},
    )
    assert isinstance(answer, dict)
    return answer


def inbox_status(state: Engine, source: str, event_id: str) -> tuple[str, str] | None:
    with state.connect() as conn:
        row = conn.execute(
            text("SELECT status, result FROM cdc_sync.inbox WHERE source = :s AND event_id = :e"),
            {"s": source, "e": event_id},
        ).first()
    return None if row is None or row[0] == "pending" else (row[0], row[1])


def applied(state: Engine, source: str, event_id: str) -> tuple[str, str]:
    return wait_for(
        f"inbox {source}/{event_id} applied", lambda: inbox_status(state, source, event_id), timeout_s=30
    )


def one(crm: Engine, sql: str, **params: Any) -> Any:
    with crm.begin() as conn:
        return conn.execute(text(sql), params).first()


def zendesk_event(ticket: str, kind: str, when: datetime, **detail: Any) -> dict[str, Any]:
    """A Zendesk ticket event; `detail` always carries the ticket's current status, as Zendesk's does."""
    ticket_detail = {
        "id": ticket,
        "subject": "Printer on fire",
        "via": {"channel": "email"},
        "status": "SOLVED",
    }
    return {
        "id": str(uuid.uuid4()),
        "type": f"zen:event-type:ticket.{kind}",
        "time": when.isoformat().replace("+00:00", "Z"),
        "subject": f"zen:ticket:{ticket}",
        "detail": {**ticket_detail, **detail},
        "event": {"previous": "OPEN", "current": detail.get("status", "SOLVED")},
    }


def test_c1_ticket_resolved_with_satisfaction_updates_ticket_and_profile(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    ticket = f"A100-{tag()}"
    contact = one(
        crm,
        "INSERT INTO contacts (email, health_score) VALUES (:e, 60) RETURNING id",
        e=f"c1-{tag()}@example.com",
    )[0]
    one(
        crm,
        "INSERT INTO tickets (external_id, contact_id, subject, status) "
        "VALUES (:t, :c, 'Printer', 'Pending') "
        "RETURNING id",
        t=ticket,
        c=contact,
    )
    now = datetime.now(UTC)
    event = zendesk_event(
        ticket, "status_changed", now, status="SOLVED", priority="HIGH", satisfaction_score=5
    )
    answer = emit("helpdesk", "helpdesk", event)
    assert answer["status"] == 200, answer
    assert applied(state, "helpdesk", event["id"])[0] == "done"

    status, priority, csat, origin = one(
        crm, "SELECT status, priority, csat, sync_origin FROM tickets WHERE external_id = :t", t=ticket
    )
    assert (status, priority, csat, origin) == ("Resolved", "High", 100, "helpdesk")
    csat_last, health = one(crm, "SELECT csat_last, health_score FROM contacts WHERE id = :c", c=contact)
    assert csat_last == 100 and health == Decimal("72.00")  # 0.7 * 60 + 0.3 * 100

    unhappy = zendesk_event(ticket, "satisfaction_rated", now + timedelta(seconds=1), satisfaction_score=1)
    assert emit("helpdesk", "helpdesk", unhappy)["status"] == 200
    applied(state, "helpdesk", unhappy["id"])
    tasks = one(crm, "SELECT count(*) FROM tasks WHERE kind = 'cs_review' AND related_id = :t", t=ticket)[0]
    assert tasks == 1


def erp_event(kind: str, order: str, contract: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"erp-{uuid.uuid4()}",
        "order_no": order,
        "contract_no": contract,
        "amount": amount,
        "currency": "USD",
        "occurred_at": datetime.now(UTC).isoformat(),
        **extra,
    }


def test_b1_collection_write_back(crm: Engine, state: Engine, inbound: Process) -> None:
    run = tag()
    opportunity = one(
        crm, "INSERT INTO opportunities (name, amount) VALUES ('Big deal', 10000) RETURNING id"
    )[0]
    contract = one(
        crm,
        "INSERT INTO contracts (contract_no, opportunity_id, amount) VALUES (:n, :o, 10000) RETURNING id",
        n=f"C-{run}",
        o=opportunity,
    )[0]
    one(
        crm,
        "INSERT INTO orders (order_no, contract_id, opportunity_id, amount) VALUES (:n, :c, :o, 10000) "
        "RETURNING id",
        n=f"5001-{run}",
        c=contract,
        o=opportunity,
    )
    half = erp_event("collection.recorded", f"5001-{run}", f"C-{run}", "5000.00", collected_ratio=0.5)
    assert emit("erp", "erp", half)["status"] == 200
    applied(state, "erp", half["event_id"])
    assert one(
        crm, "SELECT collection_progress, billing_status FROM opportunities WHERE id = :o", o=opportunity
    ) == (Decimal("50.00"), "partially_collected")
    reminders = (
        "SELECT assignee_role FROM tasks "
        "WHERE title = 'Please confirm subsequent invoice' AND related_id = :n"
    )
    with crm.connect() as conn:
        assert sorted(conn.execute(text(reminders), {"n": f"5001-{run}"}).scalars()) == ["finance", "sales"]

    again = emit("erp", "erp", half)
    assert again["status"] == 200 and json.loads(again["body"])["status"] == "duplicate"
    with crm.connect() as conn:
        assert len(conn.execute(text(reminders), {"n": f"5001-{run}"}).all()) == 2

    mismatch = erp_event("collection.recorded", f"5001-{run}", f"C-{run}", "1234.00", collected_ratio=0.6)
    emit("erp", "erp", mismatch)
    applied(state, "erp", mismatch["event_id"])
    assert (
        one(crm, "SELECT billing_status FROM opportunities WHERE id = :o", o=opportunity)[0]
        == "needs_verification"
    )

    refund = erp_event("refund.recorded", f"5001-{run}", f"C-{run}", "500.00", reason="damaged")
    emit("erp", "erp", refund)
    applied(state, "erp", refund["event_id"])
    assert one(crm, "SELECT billing_status FROM opportunities WHERE id = :o", o=opportunity)[0] == "refunded"
    assert (
        one(
            crm, "SELECT count(*) FROM tasks WHERE kind = 'risk_review' AND related_id = :n", n=f"5001-{run}"
        )[0]
        == 1
    )

    stray = erp_event("collection.recorded", f"9999-{run}", f"C-none-{run}", "10.00", collected_ratio=0.1)
    emit("erp", "erp", stray)
    assert applied(state, "erp", stray["event_id"])[0] == "unmatched"
    assert (
        one(
            crm,
            "SELECT count(*) FROM tasks WHERE kind = 'manual_review' AND related_id = :n",
            n=f"9999-{run}",
        )[0]
        == 1
    )


def list_event(kind: str, email: str, fired: datetime) -> dict[str, Any]:
    return {
        "type": kind,
        "fired_at": fired.strftime("%Y-%m-%d %H:%M:%S"),
        "data": {"email": email, "list_id": "crm-audience", "reason": "manual"},
    }


def test_platform_unsubscribe_wins_and_resubscribe_without_consent_is_refused(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    email = f"optout-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    one(
        crm,
        "INSERT INTO subscriptions (contact_id, list_id, status, consent_timestamp, consent_source) "
        "VALUES (:c, 'crm-audience', 'subscribed', now() - interval '1 day', 'form') RETURNING contact_id",
        c=contact,
    )
    answer = emit(
        "marketing",
        "marketing-lists",
        list_event("unsubscribe", email, datetime.now(UTC)),
        query=f"?secret={LIST_SECRET}",
    )
    assert answer["status"] == 200, answer
    wait_for(
        "CRM unsubscribed",
        lambda: (
            one(crm, "SELECT status FROM subscriptions WHERE contact_id = :c", c=contact)[0] == "unsubscribed"
        ),
    )
    trail = runner.cli("audit", "--object", f"contact:{contact}", "--action", "subscription.change", "--json")
    assert trail.returncode == 0, trail.stderr
    (change,) = json.loads(trail.stdout)
    assert change["actor"] == "marketing"
    assert (change["before"]["status"], change["after"]["status"]) == ("subscribed", "unsubscribed")
    resubscribe = emit(
        "marketing",
        "marketing-lists",
        list_event("subscribe", email, datetime.now(UTC) + timedelta(seconds=1)),
        query=f"?secret={LIST_SECRET}",
    )
    event_id = json.loads(resubscribe["body"])["event_id"]
    status, reason = applied(state, "marketing-lists", event_id)
    assert status == "refused" and "consent" in reason
    assert one(crm, "SELECT status FROM subscriptions WHERE contact_id = :c", c=contact)[0] == "unsubscribed"


def click_event(email: str, campaign: str | None = None) -> dict[str, Any]:
    """A signed engagement event of the marketing platform: a click on a campaign's link, now."""
    return {
        "type": "email.clicked",
        "event_id": f"click-{uuid.uuid4()}",
        "email": email,
        "campaign_id": campaign or f"cmp-{tag()}",
        "url": "https://example.com/offer",
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def test_the_same_click_many_times_is_one_activity(crm: Engine, state: Engine, inbound: Process) -> None:
    email = f"clicker-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    campaign = f"cmp-{tag()}"
    click = click_event(email.upper(), campaign)
    answers = [emit("marketing", "marketing", click) for _ in range(3)]
    assert [a["status"] for a in answers] == [200, 200, 200]
    applied(state, "marketing", click["event_id"])
    rows = one(
        crm,
        "SELECT count(*), min(a.contact_id), min(c.external_id) FROM activities a "
        "JOIN campaigns c ON c.id = a.campaign_id WHERE a.source_event_id = :e",
        e=click["event_id"],
    )
    assert tuple(rows) == (1, contact, campaign)


def test_forged_stale_oversized_and_malformed_requests_write_nothing(state: Engine, inbound: Process) -> None:
    def inbox_size() -> int:
        with state.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM cdc_sync.inbox")).scalar_one())

    def signature_alerts() -> int:
        with state.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT coalesce(sum(coalesce((details->>'count')::int, 1)), 0) "
                        "FROM cdc_sync.alerts WHERE kind = 'webhook_signature'"
                    )
                ).scalar_one()
            )

    before, alerts_before = inbox_size(), signature_alerts()
    body = json.dumps({"type": "collection.recorded", "event_id": "forged-1"}).encode()
    forged = httpx.post(
        f"{WEBHOOKS}/erp",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": "forged-1",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        },
    )
    assert forged.status_code == 401
    stale = emit(
        "erp",
        "erp",
        erp_event("collection.recorded", "1", "1", "1", collected_ratio=1),
        timestamp=int(time.time()) - 3600,
    )
    assert stale["status"] == 401 and "tolerance" in stale["body"]
    huge = httpx.post(f"{WEBHOOKS}/erp", content=b"x" * 300_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413
    malformed = emit("marketing", "marketing", {"type": "email.clicked", "event_id": "m-1"})  # no email etc.
    assert malformed["status"] == 422
    wrong_type = httpx.post(f"{WEBHOOKS}/erp", content=b"a=b", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert inbox_size() == before
    assert signature_alerts() >= alerts_before + 2  # occurrences; one row a minute per source


def test_a_flood_of_forged_webhooks_is_one_alert_row_a_minute_with_its_count(
    state: Engine, inbound: Process
) -> None:
    source = "helpdesk-csat"  # a source no other test forges requests to

    def rows() -> list[tuple[int, Any]]:
        with state.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT id, details FROM cdc_sync.alerts WHERE kind = 'webhook_signature' "
                    "AND destination = :s ORDER BY id"
                ),
                {"s": source},
            )
            return [(int(row[0]), row[1]) for row in found]

    before = rows()
    for n in range(5):
        forged = httpx.post(
            f"{WEBHOOKS}/{source}",
            content=json.dumps({"id": f"forged-{n}"}).encode(),
            headers={"content-type": "application/json", "x-zendesk-webhook-signature": "AAAA"},
        )
        assert forged.status_code == 401
    after = rows()

    def total(found: list[tuple[int, Any]]) -> int:
        return sum(int((details or {}).get("count", 1)) for _, details in found)

    assert total(after) - total(before) == 5  # every forged request counted
    # One row a minute: the five land in the minute's row (two if they straddle its end), not five.
    assert len(after) - len(before) <= 2


def test_a_crm_edit_racing_a_vendor_edit_becomes_a_conflict_then_resolves(
    crm: Engine, state: Engine, runner: Runner, inbound: Process
) -> None:
    email = f"conflict-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email, first_name) VALUES (:e, 'Crm') RETURNING id", e=email)[0]
    ticket = f"A200-{tag()}"
    one(
        crm,
        "INSERT INTO tickets (external_id, contact_id, subject, status) "
        "VALUES (:t, :c, 'X', 'Open') RETURNING id",
        t=ticket,
        c=contact,
    )
    vendor_time = datetime.now(UTC) - timedelta(minutes=1)  # the helpdesk acted a minute ago
    one(
        crm, "UPDATE tickets SET status = 'Pending' WHERE external_id = :t RETURNING id", t=ticket
    )  # after the vendor
    event = zendesk_event(ticket, "status_changed", vendor_time, status="SOLVED")
    emit("helpdesk", "helpdesk", event)
    status, result = applied(state, "helpdesk", event["id"])
    assert status == "conflict" and "status" in result
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Pending"

    listing = json.loads(runner.cli("conflicts", "list", "--json").stdout)
    conflict = next(c for c in listing if c["event_id"] == event["id"] and c["field"] == "status")
    assert (conflict["field"], conflict["crm_value"], conflict["vendor_value"]) == (
        "status",
        "Pending",
        "Resolved",
    )
    assert "after the vendor's event" in conflict["reason"]
    resolved = runner.cli("conflicts", "resolve", str(conflict["id"]), "--keep", "vendor")
    assert resolved.returncode == 0, resolved.stderr
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Resolved"
    with state.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT count(*) FROM cdc_sync.audit_log WHERE action = 'conflict.resolve' "
                "AND details->>'conflict' = :c"
            ),
            {"c": str(conflict["id"])},
        ).scalar_one()
    assert audited == 1


def test_vendor_written_change_is_not_echoed_back_but_reaches_the_others(
    crm: Engine, state: Engine, runner: Runner, inbound: Process
) -> None:
    email = f"echo-in-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    ticket = f"A300-{tag()}"
    one(
        crm,
        "INSERT INTO tickets (external_id, contact_id, subject) VALUES (:t, :c, 'X') RETURNING id",
        t=ticket,
        c=contact,
    )
    wait_for(
        "contact at the helpdesk",
        lambda: sandbox(
            "helpdesk",
            "GET",
            f"/api/v2/users/search?external_id={contact}",
            auth=("integration@example.com/token", "sandbox-zendesk-token"),
        )["count"],
    )
    seen_marketing = int(sandbox("marketing", "GET", "/_sandbox/requests?since=100000000")["total"])
    suppressed = runner.metric("cdc_sync_echoes_suppressed_total", destination="helpdesk")
    event = zendesk_event(ticket, "satisfaction_rated", datetime.now(UTC), satisfaction_score=4)
    emit("helpdesk", "helpdesk", event)
    applied(state, "helpdesk", event["id"])  # contacts.csat_last written with origin helpdesk
    wait_for(
        "the echo suppressed for the helpdesk",
        lambda: runner.metric("cdc_sync_echoes_suppressed_total", destination="helpdesk") >= suppressed + 1,
    )

    def marketing_updated() -> bool:
        updates = sandbox("marketing", "GET", f"/_sandbox/requests?since={seen_marketing}")["requests"]
        return any(r["method"] == "PUT" and r["body"]["email_address"] == email for r in updates)

    # Both destinations are told apart: the helpdesk's echo is suppressed, marketing still gets it.
    wait_for("the change at marketing", marketing_updated)


def test_kill_9_of_the_writer_mid_batch_loses_and_repeats_nothing(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    email = f"batch-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    inbound.kill(signal.SIGKILL)
    ids = [f"open-{uuid.uuid4()}" for _ in range(60)]
    for event_id in ids:
        opened = {
            "type": "email.opened",
            "event_id": event_id,
            "email": email,
            "campaign_id": "batch",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        assert emit("marketing", "marketing", opened)["status"] == 200  # in the inbox, writer down
    inbound.start()
    wait_for(
        "some applied",
        lambda: one(crm, "SELECT count(*) FROM activities WHERE contact_id = :c", c=contact)[0] > 5,
        timeout_s=30,
    )
    inbound.kill(signal.SIGKILL)
    inbound.start()
    wait_for("all applied", lambda: all(inbox_status(state, "marketing", i) for i in ids), timeout_s=60)
    assert one(
        crm,
        "SELECT count(*), count(DISTINCT source_event_id) FROM activities WHERE contact_id = :c",
        c=contact,
    ) == (60, 60)


def test_many_concurrent_webhooks_for_distinct_contacts_are_each_applied_exactly_once(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    run = tag()
    emails = [f"many-{run}-{n}@example.com" for n in range(300)]
    with crm.begin() as conn:
        contacts: dict[str, int] = dict(
            conn.execute(
                text("INSERT INTO contacts (email) SELECT unnest(CAST(:e AS text[])) RETURNING email, id"),
                {"e": emails},
            ).all()
        )
    clicks = [
        {
            "type": "email.clicked",
            "event_id": f"many-{run}-{n}",
            "email": email,
            "campaign_id": f"many-{run}",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        for n, email in enumerate(emails)
    ]
    secret = os.environ["CDC_SYNC_MARKETING_WEBHOOK_SECRET"]

    async def send(client: httpx.AsyncClient, click: dict[str, Any]) -> tuple[int, str]:
        body = json.dumps(click).encode()
        headers = {
            "content-type": "application/json",
            **signed_headers(secret, click["event_id"], int(time.time()), body),
        }
        answer = await client.post(f"{WEBHOOKS}/marketing", content=body, headers=headers)
        return answer.status_code, answer.json()["status"] if answer.status_code == 200 else answer.text

    async def send_all() -> list[tuple[int, str]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            return await asyncio.gather(*(send(client, click) for click in clicks * 2))  # each one twice

    answers = asyncio.run(send_all())
    assert {status for status, _ in answers} == {200}, answers
    per_event = [sorted((answers[n][1], answers[n + len(clicks)][1])) for n in range(len(clicks))]
    assert all(pair == ["accepted", "duplicate"] for pair in per_event), per_event
    ids = [click["event_id"] for click in clicks]

    def statuses() -> list[str] | None:
        with state.connect() as conn:
            found = list(
                conn.execute(
                    text(
                        "SELECT status FROM cdc_sync.inbox WHERE source = 'marketing' "
                        "AND event_id = ANY(:ids) AND status <> 'pending'"
                    ),
                    {"ids": ids},
                ).scalars()
            )
        return found if len(found) == len(ids) else None

    assert wait_for("all 300 applied", statuses, timeout_s=120) == ["done"] * len(ids)
    with crm.connect() as conn:
        per_contact: dict[int, int] = dict(
            conn.execute(
                text(
                    "SELECT contact_id, count(*) FROM activities "
                    "WHERE contact_id = ANY(:c) AND kind = 'email_click' GROUP BY contact_id"
                ),
                {"c": list(contacts.values())},
            ).all()
        )
    assert per_contact == {contact: 1 for contact in contacts.values()}


def writer_metric(name: str, **labels: str) -> float:
    """The sum of the writer's samples of a metric with these labels."""
    page = httpx.get(f"http://127.0.0.1:{WRITER_METRICS_PORT}/metrics", timeout=5).text
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith(f"{name}{{") and all(part in line for part in wanted)
    )


RawPut = Callable[..., int]


@pytest.fixture
def raw_inbox(state: Engine) -> Iterator[RawPut]:
    """Inbox rows no webhook can produce (the writer's input as a bug or an old version left it).
    Whatever of them is still pending afterwards is closed, so no other writer meets them."""
    ids: list[int] = []

    def put(kind: str, entity: str, data: Any, occurred_at: datetime, source: str = "helpdesk") -> int:
        with state.begin() as conn:
            inbox_id = int(
                conn.execute(
                    text(
                        "INSERT INTO cdc_sync.inbox (source, event_id, kind, entity, occurred_at, data) "
                        "VALUES (:s, :e, :k, :n, :at, CAST(:d AS jsonb)) RETURNING id"
                    ),
                    {
                        "s": source,
                        "e": f"raw-{uuid.uuid4()}",
                        "k": kind,
                        "n": entity,
                        "at": occurred_at,
                        "d": json.dumps(data),
                    },
                ).scalar_one()
            )
            conn.execute(text("SELECT pg_notify('cdc_sync_inbox', '')"))
        ids.append(inbox_id)
        return inbox_id

    yield put
    with state.begin() as conn:
        conn.execute(
            text(
                "UPDATE cdc_sync.inbox SET status = 'rejected', result = 'closed by the test' "
                "WHERE id = ANY(:ids) AND status = 'pending'"
            ),
            {"ids": ids},
        )


def inbox_row(state: Engine, inbox_id: int) -> tuple[str, str] | None:
    with state.connect() as conn:
        row = conn.execute(
            text("SELECT status, result FROM cdc_sync.inbox WHERE id = :i"), {"i": inbox_id}
        ).first()
    return None if row is None or row[0] == "pending" else (row[0], row[1])


def test_an_event_the_writer_cannot_apply_is_rejected_with_its_reason_and_the_next_applies(
    crm: Engine, state: Engine, inbound: Process, raw_inbox: RawPut
) -> None:
    ticket = f"A400-{tag()}"
    one(
        crm,
        "INSERT INTO tickets (external_id, subject, status) VALUES (:t, 'X', 'Open') RETURNING id",
        t=ticket,
    )
    now = datetime.now(UTC)
    # A satisfaction score the handler cannot compare (TypeError: no exception it expects), and a
    # row that is no event at all (its data is a list): each used to stall the writer.
    raises = raw_inbox(
        "ticket.satisfaction_rated",
        f"ticket:{ticket}",
        {"ticket_id": ticket, "status": "SOLVED", "satisfaction_score": "five"},
        now,
    )
    unreadable = raw_inbox("ticket.status_changed", f"ticket:{ticket}", ["not", "an", "event"], now)
    later = zendesk_event(ticket, "status_changed", now + timedelta(seconds=1), status="SOLVED")
    assert emit("helpdesk", "helpdesk", later)["status"] == 200

    assert applied(state, "helpdesk", later["id"])[0] == "done"
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Resolved"
    status, reason = wait_for("the raising event rejected", lambda: inbox_row(state, raises), timeout_s=30)
    assert status == "rejected" and "TypeError" in reason, reason
    status, reason = wait_for(
        "the unreadable row rejected", lambda: inbox_row(state, unreadable), timeout_s=30
    )
    assert status == "rejected" and "data" in reason, reason
    time.sleep(1.5)  # a writer that retries them would log again by now
    lines = [line for line in inbound.log.read_text().splitlines() if f"inbox {raises} " in line]
    assert len(lines) == 1, lines


def test_an_older_helpdesk_event_after_a_newer_one_is_stale_and_changes_nothing(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    ticket = f"A500-{tag()}"
    one(
        crm,
        "INSERT INTO tickets (external_id, subject, status, priority) VALUES (:t, 'X', 'Open', 'Low') "
        "RETURNING id",
        t=ticket,
    )
    stale_before = writer_metric("cdc_sync_inbound_events_total", source="helpdesk", outcome="stale")
    now = datetime.now(UTC)
    newer = zendesk_event(ticket, "status_changed", now + timedelta(seconds=5), status="SOLVED")
    older = zendesk_event(ticket, "status_changed", now, status="PENDING")  # delivered late (a retry)
    assert emit("helpdesk", "helpdesk", newer)["status"] == 200
    assert applied(state, "helpdesk", newer["id"])[0] == "done"
    assert emit("helpdesk", "helpdesk", older)["status"] == 200

    status, reason = applied(state, "helpdesk", older["id"])
    assert status == "stale" and "status" in reason, reason
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Resolved"
    wait_for(
        "the stale event counted",
        lambda: (
            writer_metric("cdc_sync_inbound_events_total", source="helpdesk", outcome="stale")
            >= stale_before + 1
        ),
        timeout_s=10,
    )


def test_a_signed_webhook_with_a_nul_character_is_422_and_writes_nothing(
    state: Engine, inbound: Process
) -> None:
    def inbox_size() -> int:
        with state.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM cdc_sync.inbox")).scalar_one())

    before = inbox_size()
    click = {
        "type": "email.clicked",
        "event_id": f"nul-{uuid.uuid4()}",
        "email": f"nul-{tag()}@example.com",
        "campaign_id": "cmp\u0000drop",  # JSON's \u0000: PostgreSQL stores no NUL in text or jsonb
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    answer = emit("marketing", "marketing", click)
    assert answer["status"] == 422, answer
    assert "campaign_id" in answer["body"]
    unsubscribe = list_event("unsubscribe", f"nul-{tag()}@example.com", datetime.now(UTC))
    unsubscribe["data"]["reason"] = "a\u0000b"  # %00 in the form post
    listed = emit("marketing", "marketing-lists", unsubscribe, query=f"?secret={LIST_SECRET}")
    assert listed["status"] == 422, listed
    assert inbox_size() == before


def test_two_writers_apply_each_entitys_events_in_receipt_order(
    crm: Engine, state: Engine, inbound: Process, runner: Runner, tmp_path: Path
) -> None:
    """Two opens per contact for 500 contacts, all first opens before all second ones: both writers
    claim at once (disjoint batches), and a second open may be claimed by one writer while the other
    still holds its contact's first one."""
    run = tag()
    emails = [f"order-{run}-{n}@example.com" for n in range(500)]
    with crm.begin() as conn:
        conn.execute(text("INSERT INTO contacts (email) SELECT unnest(CAST(:e AS text[]))"), {"e": emails})
    second = Process(["--config", str(runner.config), "-v", "writer"], tmp_path / "writer2.log")
    second.start()
    time.sleep(3)  # listening, so both writers wake for the same rows
    opens = [{"email": email, "campaign_id": f"order-{run}", "url": None} for email in emails * 2]
    try:
        with state.begin() as conn:  # one transaction, one wake-up: both writers find all of it at once
            ids = list(
                conn.execute(
                    text(
                        "INSERT INTO cdc_sync.inbox (source, event_id, kind, entity, occurred_at, data) "
                        "SELECT 'marketing', 'order-' || :run || '-' || n, 'email.opened', "
                        "'email:' || (d->>'email'), now(), d "
                        "FROM unnest(CAST(:data AS jsonb[])) WITH ORDINALITY AS t(d, n) ORDER BY n "
                        "RETURNING id"
                    ),
                    {"run": run, "data": [json.dumps(o) for o in opens]},
                ).scalars()
            )
            conn.execute(text("SELECT pg_notify('cdc_sync_inbox', '')"))

        def finished() -> dict[int, datetime] | None:
            with state.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT id, processed_at FROM cdc_sync.inbox WHERE id = ANY(:ids) AND status = 'done'"
                    ),
                    {"ids": ids},
                ).all()
            return {row[0]: row[1] for row in rows} if len(rows) == len(ids) else None

        done = wait_for("all 1000 applied", finished, timeout_s=120)
    finally:
        assert second.stop() == 0, second.log.read_text()[-2000:]
    first, again = ids[:500], ids[500:]
    late = [n for n in range(500) if done[first[n]] > done[again[n]]]
    assert not late, f"second opens applied before the first for {len(late)} contacts"
    ours = {f"inbox {i} " for i in ids}
    applied_by_second = [line for line in second.log.read_text().splitlines() if "email.opened: done" in line]
    assert any(
        line[line.index("inbox ") :].partition("marketing")[0] in ours for line in applied_by_second
    ), "the second writer applied none: the test did not race two writers"


def test_an_unmatched_event_is_listed_and_replayed_once_its_contact_exists(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    email = f"early-{tag()}@example.com"
    click = click_event(email)
    emit("marketing", "marketing", click)
    assert applied(state, "marketing", click["event_id"])[0] == "unmatched"
    listed = runner.cli("inbox", "list", "--status", "unmatched", "--source", "marketing", "--json")
    assert listed.returncode == 0, listed.stderr
    [inbox_id] = [row["id"] for row in json.loads(listed.stdout) if row["event_id"] == click["event_id"]]

    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    replayed = runner.cli("inbox", "replay", str(inbox_id))
    assert replayed.returncode == 0, replayed.stderr
    wait_for(
        "the replayed click applied",
        lambda: (inbox_status(state, "marketing", click["event_id"]) or ("pending",))[0] == "done",
    )
    timeline = "SELECT contact_id FROM activities WHERE source_event_id = :e"
    assert one(crm, timeline, e=click["event_id"]) == (contact,)
    again = runner.cli("inbox", "replay", str(inbox_id))  # done now: nothing to replay
    assert again.returncode == 2 and "not rejected or unmatched" in again.stderr
    audit = (
        "SELECT count(*) FROM cdc_sync.audit_log WHERE action = 'inbox.replay' "
        "AND details->'ids' @> CAST(:i AS jsonb)"
    )
    assert one(state, audit, i=f"[{inbox_id}]")[0] == 1


def test_a_list_webhook_for_an_audience_we_do_not_sync_is_403_and_writes_nothing(
    state: Engine, inbound: Process
) -> None:
    email = f"other-list-{tag()}@example.com"
    event = list_event("unsubscribe", email, datetime.now(UTC))
    event["data"]["list_id"] = "someone-elses-audience"
    answer = emit("marketing", "marketing-lists", event, query=f"?secret={LIST_SECRET}")
    assert answer["status"] == 403 and "someone-elses-audience" in answer["body"]
    with state.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM cdc_sync.inbox WHERE source = 'marketing-lists' AND entity = :e"),
            {"e": f"email:{email}"},
        ).scalar_one()
        alerted = conn.execute(
            text("SELECT count(*) FROM cdc_sync.alerts WHERE kind = 'webhook_forbidden' AND message LIKE :m"),
            {"m": "%someone-elses-audience%"},
        ).scalar_one()
    assert (stored, alerted >= 1) == (0, True)
