"""The call center on the real stack: signed call events, shuffled and duplicated, through
`cdc-sync serve` and the writer into one call record, one timeline entry and a matched contact;
a dial result onto its CRM task and the do-not-call list, which blocks the next task; the agent
mapping queue (by hand and by the agent sync from the sandbox) and the review of ambiguous matches."""

import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, insert

from cdc_sync.model.inbound import NORMAL
from cdc_sync.signing import signed_headers
from cdc_sync.store import inbox
from cdc_sync.store.tables import inbox as inbox_table
from cdc_sync.vendors.callcenter.webhooks import PRIORITIES
from tests.integration.outbound_fixtures import Process, Runner, wait_for
from tests.integration.test_inbound import applied, one

WEBHOOK = "http://127.0.0.1:8000/webhooks/callcenter"


def post(event: dict[str, Any]) -> None:
    body = orjson.dumps(event)
    secret = os.environ["CDC_SYNC_CALLCENTER_WEBHOOK_SECRET"]
    headers = {
        "content-type": "application/json",
        **signed_headers(secret, event["event_id"], int(time.time()), body),
    }
    answer = httpx.post(WEBHOOK, content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def call_event(call_id: str, kind: str, at: datetime, **call: Any) -> dict[str, Any]:
    return {
        "event_id": f"{call_id}-{kind}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "call": {"call_id": call_id, "direction": "inbound", "from_number": call.pop("caller"), **call},
    }


def test_a_calls_shuffled_duplicated_events_make_one_record_on_the_matched_contact(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    suffix = f"{random.randrange(10**7, 10**8)}"
    contact = one(
        crm, "INSERT INTO contacts (phone, country) VALUES (:p, 'DE') RETURNING id", p=f"030 {suffix}"
    )[0]
    call_id, t0, caller = (
        f"call-{uuid.uuid4().hex[:8]}",
        datetime.now(UTC) - timedelta(minutes=5),
        f"+4930{suffix}",
    )
    events = [
        call_event(
            call_id,
            "call.ringing",
            t0,
            caller=caller,
            status="ringing",
            started_at=t0.isoformat(),
            agent_id="a-it",
        ),
        call_event(
            call_id,
            "call.answered",
            t0 + timedelta(seconds=3),
            caller=caller,
            connected_at=(t0 + timedelta(seconds=3)).isoformat(),
        ),
        call_event(
            call_id,
            "call.ended",
            t0 + timedelta(seconds=63),
            caller=caller,
            status="answered",
            ended_at=(t0 + timedelta(seconds=63)).isoformat(),
            talk_duration_sec=60,
        ),
        call_event(
            call_id,
            "call.recording_ready",
            t0 + timedelta(seconds=70),
            caller=caller,
            recording_url="https://media.callcenter.example/rec/1?sig=x",
            recording_ready=True,
        ),
        call_event(
            call_id, "call.qa_completed", t0 + timedelta(seconds=600), caller=caller, qa_tags=["polite"]
        ),
    ]
    shuffled = events + events[:2]
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        post(event)
    for event in events:
        outcome = applied(state, "callcenter", event["event_id"])
        assert outcome[0] == "done", outcome

    row = one(
        crm,
        "SELECT status, contact_id, talk_duration_sec, ring_duration_sec, qa_tags, recording_signed_url, "
        "caller_phone_e164, sync_origin FROM calls WHERE ext_call_id = :c",
        c=call_id,
    )
    assert tuple(row) == (
        "ANSWERED",
        contact,
        60,
        3,
        ["polite"],
        "https://media.callcenter.example/rec/1?sig=x",
        caller,
        "callcenter",
    )
    timeline = one(crm, "SELECT count(*) FROM activities WHERE kind = 'call' AND contact_id = :c", c=contact)[
        0
    ]
    assert timeline == 1
    agent = one(crm, "SELECT user_id FROM call_agents WHERE ext_agent_id = 'a-it'")
    assert agent is not None and agent[0] is None  # unmapped: in the mapping queue


def test_a_refused_dial_puts_the_number_on_do_not_call_and_the_next_task_is_blocked(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    batch, phone = f"b-{uuid.uuid4().hex[:8]}", f"+4940{random.randrange(10**7, 10**8)}"
    one(crm, "INSERT INTO dial_batches (batch_id) VALUES (:b) RETURNING id", b=batch)
    one(
        crm,
        "INSERT INTO dial_tasks (batch_id, task_id, target_phone_e164) VALUES (:b, :t, :p) RETURNING id",
        b=batch,
        t=f"{batch}-1",
        p=phone,
    )

    def at_the_call_center() -> list[dict[str, Any]]:
        tasks = httpx.get("http://127.0.0.1:9104/_sandbox/dial-tasks", timeout=10).json()["tasks"]
        return [task for task in tasks if task["task_id"] == f"{batch}-1"]

    sent = wait_for("the pending dial task sent to the call center", at_the_call_center)
    assert [(task["batch_id"], task["phone"]) for task in sent] == [(batch, phone)]
    event: dict[str, Any] = {
        "event_id": f"{batch}-r1",
        "type": "dial.result",
        "occurred_at": datetime.now(UTC).isoformat(),
        "call": {
            "batch_id": batch,
            "task_id": f"{batch}-1",
            "result_code": "BLACKLISTED",
            "attempt_count": 1,
        },
    }
    post(event)
    outcome = applied(state, "callcenter", event["event_id"])
    assert outcome[0] == "done", outcome

    assert one(
        crm, "SELECT result_code, attempt_count FROM dial_tasks WHERE task_id = :t", t=f"{batch}-1"
    ) == ("BLACKLISTED", 1)
    assert one(crm, "SELECT reason FROM do_not_call WHERE phone_e164 = :p", p=phone) == ("BLACKLISTED",)
    again = one(
        crm,
        "INSERT INTO dial_tasks (batch_id, task_id, target_phone_e164) VALUES (:b, :t, :p) RETURNING status",
        b=batch,
        t=f"{batch}-2",
        p=phone,
    )
    assert again[0] == "blocked"


def ringing(call_id: str, caller: str, agent: str) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=1)
    return call_event(call_id, "call.ringing", at, caller=caller, started_at=at.isoformat(), agent_id=agent)


def new_user(crm: Engine, email: str) -> int:
    statement = "INSERT INTO users (name, email, role) VALUES ('Agent', :e, 'sales') RETURNING id"
    return int(one(crm, statement, e=email)[0])


def cli_ok(runner: Runner, *args: str) -> str:
    done = runner.cli(*args)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def test_an_unmapped_agent_waits_in_the_queue_until_mapped_by_hand_or_by_the_agent_sync(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    tag = uuid.uuid4().hex[:8]
    by_hand, by_sync = f"a-hand-{tag}", f"a-sync-{tag}"
    hand_user, sync_user = new_user(crm, f"hand-{tag}@example.com"), new_user(crm, f"sync-{tag}@example.com")
    for agent in (by_hand, by_sync):
        event = ringing(f"call-{agent}", f"+4930{random.randrange(10**7, 10**8)}", agent)
        post(event)
        assert applied(state, "callcenter", event["event_id"])[0] == "done"
    queued = {row["ext_agent_id"]: row for row in json.loads(cli_ok(runner, "agents", "unmapped", "--json"))}
    assert (queued[by_hand]["waiting_calls"], queued[by_sync]["waiting_calls"]) == (1, 1)

    assert "1 waiting calls completed" in cli_ok(runner, "agents", "map", by_hand, f"HAND-{tag}@example.com")
    seeded = httpx.post(
        "http://127.0.0.1:9104/_sandbox/agents",
        json={"agents": [{"agent_id": by_sync, "name": "Sync", "email": f"Sync-{tag}@example.com"}]},
        timeout=10,
    )
    assert seeded.status_code == 201, seeded.text
    cli_ok(runner, "agents", "sync")

    for agent, user in ((by_hand, hand_user), (by_sync, sync_user)):
        assert one(crm, "SELECT agent_id FROM calls WHERE ext_call_id = :c", c=f"call-{agent}") == (user,)
        assert one(crm, "SELECT user_id FROM call_agents WHERE ext_agent_id = :a", a=agent) == (user,)
    again = runner.cli("agents", "map", by_hand, str(sync_user))
    assert again.returncode != 0 and "not waiting for a mapping" in again.stderr


def test_a_number_shared_by_two_contacts_is_reviewed_and_moved_with_its_timeline_entry(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    suffix = f"{random.randrange(10**7, 10**8)}"
    older, newer = (
        one(
            crm, "INSERT INTO contacts (phone, country) VALUES (:p, 'DE') RETURNING id", p=f"+49 30 {suffix}"
        )[0]
        for _ in range(2)
    )
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    event = ringing(call_id, f"+4930{suffix}", "a-review")
    post(event)
    assert applied(state, "callcenter", event["event_id"])[0] == "done"
    call, matched = one(
        crm, "SELECT id, contact_id FROM calls WHERE ext_call_id = :c AND ambiguous_match", c=call_id
    )
    assert matched in (older, newer)
    listed = json.loads(cli_ok(runner, "calls", "review", "--json"))
    assert call in [row["id"] for row in listed]

    other = older if matched == newer else newer
    assert f"is on contact {other}" in cli_ok(runner, "calls", "resolve", str(call), "--contact", str(other))
    assert one(crm, "SELECT contact_id, ambiguous_match FROM calls WHERE id = :i", i=call) == (other, False)
    timeline = "SELECT contact_id FROM activities WHERE kind = 'call' AND details->>'call' = :c"
    assert one(crm, timeline, c=call_id) == (other,)
    review = "SELECT status FROM tasks WHERE related_type = 'call' AND related_id = :i"
    assert one(crm, review, i=str(call)) == ("done",)
    assert call not in [row["id"] for row in json.loads(cli_ok(runner, "calls", "review", "--json"))]


def test_an_expired_recording_link_is_renewed_through_the_call_center_once_and_audited(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    call_id, at = f"call-{uuid.uuid4().hex[:8]}", datetime.now(UTC) - timedelta(minutes=2)
    ready = call_event(
        call_id,
        "call.recording_ready",
        at,
        caller=f"+4930{random.randrange(10**7, 10**8)}",
        recording_url="https://media.callcenter.example/old?sig=expired",
        recording_ready=True,
    )
    post(ready)
    assert applied(state, "callcenter", ready["event_id"])[0] == "done"
    seeded = httpx.post(
        "http://127.0.0.1:9104/_sandbox/calls",
        json={"calls": [{"call_id": call_id, "recording_ready": True}]},
        timeout=10,
    )
    assert seeded.status_code == 201, seeded.text
    call = one(crm, "SELECT id FROM calls WHERE ext_call_id = :c", c=call_id)[0]

    printed = [cli_ok(runner, "calls", "recording", str(call)).strip() for _ in range(2)]
    assert printed[0] == printed[1] and printed[0].startswith(
        f"https://media.callcenter.example/recordings/{call_id}"
    )
    requests = httpx.get("http://127.0.0.1:9104/_sandbox/requests", timeout=10).json()["requests"]
    assert [r["status"] for r in requests if r["path"] == f"/v1/recordings/{call_id}/link"] == [200]
    url, expires, sha = one(
        crm,
        "SELECT recording_signed_url, recording_url_expires_at, recording_sha256 FROM calls WHERE id = :i",
        i=call,
    )
    assert url == printed[0] and datetime.now(UTC) < expires <= datetime.now(UTC) + timedelta(hours=24)
    assert len(sha) == 64
    audit = "SELECT count(*) FROM cdc_sync.audit_log WHERE action = 'call.recording' AND object = :o"
    assert one(state, audit, o=f"call:{call}")[0] == 1


def first_pop(lines: Iterator[str], call_id: str, deadline: float) -> dict[str, Any]:
    """The first screen pop of `call_id`; heartbeats (every 15 s) let the deadline be checked."""
    for line in lines:
        if line.startswith("data: ") and (body := orjson.loads(line[6:]))["call"] == call_id:
            return dict(body)
        if time.monotonic() > deadline:
            break
    pytest.fail(f"no screen pop for {call_id} within 30 s")


def test_a_ringing_call_pops_up_on_a_followers_screen_with_its_contact(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    suffix = f"{random.randrange(10**7, 10**8)}"
    contact = one(
        crm,
        "INSERT INTO contacts (first_name, last_name, phone, country) VALUES ('Grace', 'Hopper', :p, 'DE') "
        "RETURNING id",
        p=f"030 {suffix}",
    )[0]
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    headers = {"authorization": f"Bearer {os.environ['CDC_SYNC_EVENTS_TOKEN']}"}
    with httpx.stream("GET", "http://127.0.0.1:8000/events/calls", headers=headers, timeout=30) as live:
        assert live.status_code == 200
        lines = live.iter_lines()
        assert next(lines) == ": following calls"  # subscribed: what follows is not missed
        post(ringing(call_id, f"+4930{suffix}", "a-pop"))
        pop = first_pop(lines, call_id, deadline=time.monotonic() + 30)
    assert pop["contact"] == {"id": contact, "name": "Grace Hopper", "new_lead": False}
    assert (pop["status"], pop["agent"], pop["caller"]) == ("RINGING", "a-pop", f"+4930{suffix}")


def dial_count(crm: Engine, batch: str, where: str) -> int:
    return int(one(crm, f"SELECT count(*) FROM dial_tasks WHERE batch_id = :b AND {where}", b=batch)[0])


def test_a_thousand_dial_tasks_go_out_in_batches_and_every_result_comes_back_onto_its_task(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    batch, refused = f"b-{uuid.uuid4().hex[:8]}", f"+4941{random.randrange(10**7, 10**8)}"
    one(
        crm,
        "INSERT INTO do_not_call (phone_e164, reason) VALUES (:p, 'REJECTED') RETURNING reason",
        p=refused,
    )
    one(crm, "INSERT INTO dial_batches (batch_id) VALUES (:b) RETURNING id", b=batch)
    one(
        crm,
        "INSERT INTO dial_tasks (batch_id, task_id, target_phone_e164) "
        "SELECT :b, :b || '-' || n, "
        "CASE WHEN n % 100 = 0 THEN :dnc ELSE :prefix || lpad(n::text, 4, '0') END "
        "FROM generate_series(1, 1000) AS n RETURNING id",
        b=batch,
        dnc=refused,
        prefix=f"+4942{random.randrange(10**5, 10**6)}",  # numbers of this run only (no earlier do-not-call)
    )
    assert dial_count(crm, batch, "status = 'blocked'") == 10  # the do-not-call number's tasks

    def queued() -> list[dict[str, Any]]:
        tasks = httpx.get("http://127.0.0.1:9104/_sandbox/dial-tasks", timeout=10).json()["tasks"]
        mine = [task for task in tasks if task["batch_id"] == batch]
        return mine if len(mine) >= 990 else []

    sent = wait_for("990 dial tasks at the call center", queued, timeout_s=120)
    assert len(sent) == 990 and refused not in {task["phone"] for task in sent}
    requests = httpx.get("http://127.0.0.1:9104/_sandbox/requests", timeout=10).json()["requests"]
    calls = [r for r in requests if r["path"] == "/v1/dial-batches" and r["body"]["batch_id"] == batch]
    assert len(calls) >= 2 and all(len(r["body"]["tasks"]) <= 500 for r in calls)

    order = {"target": WEBHOOK, "results": {f"{batch}-7": "BLACKLISTED"}}
    dialled = httpx.post("http://127.0.0.1:9104/_sandbox/dial-results", json=order, timeout=300).json()
    assert set(dialled["statuses"]) == {"200"}, dialled
    wait_for(
        "every result on its task",
        lambda: dial_count(crm, batch, "result_code IS NOT NULL AND attempt_count = 1") == 990,
        timeout_s=120,
    )
    assert dial_count(crm, batch, "result_code = 'CONNECTED'") == 989
    phone = one(crm, "SELECT target_phone_e164 FROM dial_tasks WHERE task_id = :t", t=f"{batch}-7")[0]
    assert one(crm, "SELECT reason FROM do_not_call WHERE phone_e164 = :p", p=phone) == ("BLACKLISTED",)


def test_the_writer_takes_call_records_before_recordings_and_qa_tags_when_it_is_behind(state: Engine) -> None:
    tag, now = uuid.uuid4().hex[:8], datetime.now(UTC)
    kinds = ["call.qa_completed", "call.ended", "call.recording_ready", "call.ringing", "dial.result"]
    rows = [
        {
            "source": "callcenter",
            "event_id": f"{tag}-{n}-{kind}",
            "kind": kind,
            "entity": f"call:{tag}-{n}",
            "occurred_at": now,
            "data": {},
            "priority": PRIORITIES.get(kind, NORMAL),
        }
        for n, kind in enumerate(kinds)
    ]
    with state.connect() as conn, conn.begin() as backlog:  # never committed: no writer sees them
        conn.execute(insert(inbox_table), rows)
        claimed = inbox.claim_batch(conn, 10_000).events
        backlog.rollback()
    mine = [c.event.kind for c in claimed if c.event.event_id.startswith(tag)]
    assert mine == ["call.ended", "call.ringing", "dial.result", "call.qa_completed", "call.recording_ready"]


def test_what_a_lost_webhook_left_out_is_found_against_the_call_center_and_fixed_through_the_writer(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    ring = ringing(call_id, f"+4930{random.randrange(10**7, 10**8)}", "a-reconcile")
    post(ring)  # answered, ended and QA never arrive
    assert applied(state, "callcenter", ring["event_id"])[0] == "done"
    ended = datetime.now(UTC).replace(microsecond=0)
    detail = {
        **ring["call"],
        "status": "answered",
        "connected_at": (ended - timedelta(seconds=40)).isoformat(),
        "ended_at": ended.isoformat(),
        "talk_duration_sec": 40,
        "qa_tags": ["escalated"],
    }
    seeded = httpx.post("http://127.0.0.1:9104/_sandbox/calls", json={"calls": [detail]}, timeout=10)
    assert seeded.status_code == 201, seeded.text

    def verdict(*fix: str) -> dict[str, Any]:
        found = json.loads(
            cli_ok(runner, "calls", "reconcile", "--since", "10m", "--call", call_id, "--json", *fix)
        )
        return next(f for f in found if f["call"] == call_id)

    before = verdict()
    assert before["state"] == "differs" and {"status", "ended_at", "qa_tags"} <= set(before["differences"])
    verdict("--fix")
    wait_for(
        "the repair applied",
        lambda: one(crm, "SELECT status FROM calls WHERE ext_call_id = :c", c=call_id) == ("ANSWERED",),
    )
    assert one(crm, "SELECT talk_duration_sec, qa_tags FROM calls WHERE ext_call_id = :c", c=call_id) == (
        40,
        ["escalated"],
    )
    assert verdict()["state"] == "same"


@pytest.mark.parametrize(
    "url",
    [
        "http://media.callcenter.example/r.mp3",
        "https://media.callcenter.example.evil.example/r.mp3",
        "https://media.callcenter.example@169.254.169.254/latest/meta-data",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/r.mp3",
        "https://media.callcenter.example:8443/r.mp3",
    ],
    ids=["http", "not-allow-listed", "userinfo", "metadata-ip", "ipv6-mapped-loopback", "odd-port"],
)
def test_an_unsafe_recording_link_is_never_stored_and_asks_for_review(
    url: str, crm: Engine, state: Engine, inbound: Process
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    event = call_event(
        call_id,
        "call.recording_ready",
        datetime.now(UTC),
        caller=f"+4930{random.randrange(10**7, 10**8)}",
        recording_ready=True,
        recording_url=url,
    )
    post(event)
    assert applied(state, "callcenter", event["event_id"])[0] == "done"
    stored = "SELECT id, has_recording, recording_signed_url FROM calls WHERE ext_call_id = :c"
    call, has_recording, link = one(crm, stored, c=call_id)
    assert (has_recording, link) == (True, None)
    review = "SELECT kind FROM tasks WHERE related_type = 'recording' AND related_id = :i"
    assert one(crm, review, i=str(call)) == ("manual_review",)


def test_an_unknown_number_becomes_a_new_lead_linked_to_the_call(
    crm: Engine, state: Engine, inbound: Process
) -> None:
    call_id, caller = f"call-{uuid.uuid4().hex[:8]}", f"+4989{random.randrange(10**7, 10**8)}"
    event = ringing(call_id, caller, "a-lead")
    post(event)
    assert applied(state, "callcenter", event["event_id"])[0] == "done"
    lead = one(
        crm,
        "SELECT c.phone, c.lifecycle_stage, c.sync_origin FROM calls k "
        "JOIN contacts c ON c.id = k.contact_id WHERE k.ext_call_id = :c",
        c=call_id,
    )
    assert tuple(lead) == (caller, "lead", "callcenter")
