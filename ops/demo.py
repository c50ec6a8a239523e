"""`make demo`: the stories end to end on the running stack (run through `make demo`).

1. a CRM change arrives in Kafka and is decoded;
2. A-1: 20 contacts tagged `high-value-prospect` reach the marketing audience;
3. D-2: the marketing platform fails, cdc-sync escalates and pauses it, holds what follows,
   and `destinations resume` replays the held changes in order without duplicates;
4. C-1: the helpdesk resolves ticket A100 with satisfaction 5 through a signed webhook; the
   writer updates the CRM ticket and the contact's profile; a write racing a CRM edit lands in
   the conflict queue instead;
5. the call center: an incoming call pops up on a following agent screen (SSE) with the matched
   contact, then its events — sent shuffled — become one call record with a recording link and
   QA tags on the contact's timeline.
"""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import tomli_w
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import Engine, create_engine, text

from cdc_sync.settings import Settings
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash

ROOT = Path(__file__).parents[1]
CLI = str(Path(sys.executable).parent / "cdc-sync")
MARKETING = "http://127.0.0.1:9101"
NOTIFICATIONS = "http://127.0.0.1:9103"  # the ERP sandbox doubles as the alert webhook sink
HELPDESK = "http://127.0.0.1:9102"
CALLCENTER = "http://127.0.0.1:9104"
SERVE = "http://127.0.0.1:8000"
MAILCHIMP_AUTH = ("cdc-sync", os.environ.get("CDC_SYNC_MAILCHIMP_API_KEY", "sandbox-mailchimp-key"))
T = TypeVar("T")


def say(text_: str) -> None:
    print(text_, flush=True)


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 120) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"demo: gave up waiting for {what} after {timeout_s:.0f}s")


def cdc_sync(config: Path, *args: str) -> str:
    done = subprocess.run(
        [CLI, "--config", str(config), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"demo: cdc-sync {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def demo_config(state: Path, group: str) -> Path:
    """The repo config with the demo run's own consumer group."""
    config = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["consumer"]["group_id"] = group
    config["destinations"]["marketing"].update(backoff_base_s=0.3, backoff_cap_s=2.0)
    path = state / "demo-config.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def start_from_now(settings: Settings, group: str, topics: list[str]) -> None:
    """The demo's group starts at the topics' ends, not at everything tests and benchmarks left there."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ]
    ends = [
        TopicPartition(tp.topic, tp.partition, consumer.get_watermark_offsets(tp, timeout=10)[1])
        for tp in partitions
    ]
    consumer.commit(offsets=ends, asynchronous=False)
    consumer.close()


@contextmanager
def background(name: str, args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=90)
        say(f"   ({name} stopped; its log: {log})")


def members_tagged(emails: list[str], tag: str) -> bool:
    with httpx.Client(base_url=MARKETING, auth=MAILCHIMP_AUTH) as client:
        found = [client.get(f"/3.0/lists/crm-audience/members/{subscriber_hash(e)}") for e in emails]
    return all(r.status_code == 200 and tag in [t["name"] for t in r.json()["tags"]] for r in found)


def story_a1(crm: Engine, config: Path) -> list[int]:
    say("== A-1: 20 high-value prospects tagged in the CRM reach the marketing audience")
    run = uuid.uuid4().hex[:6]
    emails = [f"prospect-{run}-{i}@example.com" for i in range(20)]
    with crm.begin() as conn:
        ids = [
            conn.execute(
                text(
                    "INSERT INTO contacts (first_name, last_name, email, country) "
                    "VALUES ('Pat', :n, :e, 'DE') RETURNING id"
                ),
                {"n": f"Prospect {i}", "e": e},
            ).scalar_one()
            for i, e in enumerate(emails)
        ]
        conn.execute(text("INSERT INTO tags (name) VALUES ('high-value-prospect') ON CONFLICT DO NOTHING"))
        conn.execute(
            text(
                "INSERT INTO contact_tags (contact_id, tag_id) SELECT c, t.id FROM "
                "unnest(CAST(:ids AS bigint[])) c, tags t WHERE t.name = 'high-value-prospect'"
            ),
            {"ids": ids},
        )
    started = time.monotonic()
    wait_for("20 tagged members", lambda: members_tagged(emails, "high-value-prospect"))
    say(f"   all 20 members carry the tag in the sandbox audience after {time.monotonic() - started:.1f}s")
    say(f"   sync log of contact:{ids[0]} (cdc-sync deliveries --object contact:{ids[0]}):")
    for line in cdc_sync(config, "deliveries", "--object", f"contact:{ids[0]}").splitlines():
        say(f"     {line}")
    return ids


def marketing(path: str, method: str = "GET", **kwargs: Any) -> Any:
    response = httpx.request(method, MARKETING + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def destination_row(config: Path, name: str) -> dict[str, Any]:
    rows = json.loads(cdc_sync(config, "destinations", "list", "--json"))
    return next(row for row in rows if row["name"] == name)


def story_d2(crm: Engine, config: Path) -> None:
    say("== D-2: the marketing platform fails; escalation, pause, hold, resume")
    marketing("/_sandbox/faults", "PUT", json={"error_rate": 1.0, "error_status": 503})
    email = f"escalate-{uuid.uuid4().hex[:6]}@example.com"
    with crm.begin() as conn:
        cid = conn.execute(
            text("INSERT INTO contacts (first_name, email) VALUES ('v0', :e) RETURNING id"), {"e": email}
        ).scalar_one()
    say("   sandbox answers 503 to everything; contact created")
    wait_for("marketing paused", lambda: destination_row(config, "marketing")["state"] == "paused")
    row = destination_row(config, "marketing")
    say(f"   marketing {row['state']}: {row['reason']}")
    notifications = httpx.get(f"{NOTIFICATIONS}/_sandbox/notifications").json()["notifications"]
    severe = [n for n in notifications if n.get("severity") == "severe"]
    say(f"   severe alert sent to {', '.join(severe[-1]['recipients'].values())}: {severe[-1]['message']}")
    for version in ("v1", "v2", "v3"):
        with crm.begin() as conn:
            conn.execute(text("UPDATE contacts SET first_name = :v WHERE id = :c"), {"v": version, "c": cid})
    wait_for("the updates held", lambda: destination_row(config, "marketing")["held"] >= 4)
    say(f"   while paused, changes are held durably: held={destination_row(config, 'marketing')['held']}")
    marketing("/_sandbox/faults", "PUT", json={})
    say("   vendor healthy again; an operator confirms: cdc-sync destinations resume marketing")
    say("   " + cdc_sync(config, "destinations", "resume", "marketing").strip())
    member = marketing(f"/3.0/lists/crm-audience/members/{subscriber_hash(email)}", auth=MAILCHIMP_AUTH)
    say(
        f"   member FNAME now {member['merge_fields']['FNAME']!r}; marketing is "
        f"{destination_row(config, 'marketing')['state']}"
    )


def helpdesk_event(ticket: str, when: datetime, **detail: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "zen:event-type:ticket.status_changed",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": f"zen:ticket:{ticket}",
        "detail": {"id": ticket, "status": "SOLVED", "via": {"channel": "email"}, **detail},
        "event": {"previous": "OPEN", "current": "SOLVED"},
    }


def emit_from_helpdesk(event: dict[str, Any]) -> None:
    target = "http://127.0.0.1:8000/webhooks/helpdesk"
    answer = httpx.post(
        f"{HELPDESK}/_sandbox/emit", json={"event": event, "target": target}, timeout=30
    ).json()
    say(f"   helpdesk webhook {event['id'][:8]}… answered {answer['status']}: {answer['body']}")


def story_c1(crm: Engine, config: Path) -> None:
    say("== C-1: helpdesk ticket A100 resolved with satisfaction 5, through a signed webhook")
    ticket = f"A100-{uuid.uuid4().hex[:4]}"
    with crm.begin() as conn:
        contact = conn.execute(
            text(
                "INSERT INTO contacts (first_name, email, health_score) VALUES ('Casey', :e, 60) RETURNING id"
            ),
            {"e": f"{ticket}@example.com"},
        ).scalar_one()
        ticket_id = conn.execute(
            text(
                "INSERT INTO tickets (external_id, contact_id, subject, status) "
                "VALUES (:t, :c, 'Invoice missing', 'Pending') RETURNING id"
            ),
            {"t": ticket, "c": contact},
        ).scalar_one()
    emit_from_helpdesk(helpdesk_event(ticket, datetime.now(UTC), priority="HIGH", satisfaction_score=5))

    def ticket_row() -> Any:
        with crm.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT t.status, t.csat, c.csat_last, c.health_score FROM tickets t "
                    "JOIN contacts c ON c.id = t.contact_id WHERE t.external_id = :t"
                ),
                {"t": ticket},
            ).first()
        return row if row and row[0] == "Resolved" else None

    status, csat, csat_last, health = wait_for("the ticket written back", ticket_row, timeout_s=30)
    say(f"   CRM ticket {ticket}: status {status}, csat {csat}/100")
    say(f"   contact profile: csat_last {csat_last}, health score recomputed to {health}")
    say("   the helpdesk closes the ticket; before its delayed webhook arrives, the CRM reopens it:")
    closed_at = datetime.now(UTC)
    time.sleep(3)  # the CRM's edit comes after the helpdesk's, beyond the clocks' allowance
    with crm.begin() as conn:
        conn.execute(text("UPDATE tickets SET status = 'Reopened' WHERE external_id = :t"), {"t": ticket})
    emit_from_helpdesk(helpdesk_event(ticket, closed_at, status="CLOSED"))
    queued = f"tickets.status row {ticket_id}:"
    wait_for("the conflict", lambda: queued in cdc_sync(config, "conflicts", "list"), timeout_s=30)
    for line in cdc_sync(config, "conflicts", "list").splitlines():
        if queued in line:
            say(f"   {line}")
    say("   (an operator decides with: cdc-sync conflicts resolve ID --keep crm|vendor)")


def call_event(call_id: str, number: str, kind: str, at: datetime, **call: Any) -> dict[str, Any]:
    return {
        "event_id": f"{call_id}-{kind}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "call": {"call_id": call_id, "direction": "inbound", "from_number": f"+493055{number}", **call},
    }


def emit_from_callcenter(event: dict[str, Any]) -> None:
    order = {"event": event, "target": f"{SERVE}/webhooks/callcenter"}
    answer = httpx.post(f"{CALLCENTER}/_sandbox/emit", json=order, timeout=30).json()
    say(f"   call-center webhook {event['type']:<21} answered {answer['status']}")


def screen_pop(call_id: str, ring: dict[str, Any]) -> dict[str, Any]:
    """Follow the agents' live channel, ring, and return the pop of this call."""
    headers = {"authorization": f"Bearer {os.environ.get('CDC_SYNC_EVENTS_TOKEN', '')}"}
    with httpx.stream("GET", f"{SERVE}/events/calls", headers=headers, timeout=30) as live:
        lines = live.iter_lines()
        next(lines)  # ": following calls": subscribed before the phone rings
        emit_from_callcenter(ring)
        for line in lines:
            if line.startswith("data: ") and (pop := json.loads(line[6:]))["call"] == call_id:
                return dict(pop)
    raise SystemExit(f"demo: no screen pop for {call_id}")


def story_call(crm: Engine, config: Path) -> None:
    say("== Call center: an incoming call pops up on the agent's screen, then becomes a call record")
    number = f"{uuid.uuid4().int % 10**6:06d}"  # Dana's own number: one contact matches it
    with crm.begin() as conn:
        contact = conn.execute(
            text(
                "INSERT INTO contacts (first_name, last_name, phone, country) "
                "VALUES ('Dana', 'Scully', :p, 'DE') RETURNING id"
            ),
            {"p": f"030 55 {number}"},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO opportunities (contact_id, name, stage) VALUES (:c, 'Renewal 2027', 'proposal')"
            ),
            {"c": contact},
        )
    call_id, t0 = f"call-{uuid.uuid4().hex[:8]}", datetime.now(UTC) - timedelta(minutes=2)
    later = [
        call_event(
            call_id, number, "call.qa_completed", t0 + timedelta(minutes=2), qa_tags=["friendly", "resolved"]
        ),
        call_event(
            call_id,
            number,
            "call.ended",
            t0 + timedelta(seconds=98),
            status="answered",
            ended_at=(t0 + timedelta(seconds=98)).isoformat(),
            talk_duration_sec=95,
        ),
        call_event(
            call_id,
            number,
            "call.recording_ready",
            t0 + timedelta(seconds=100),
            recording_ready=True,
            recording_url=f"https://media.callcenter.example/recordings/{call_id}.mp3?sig=demo",
        ),
        call_event(
            call_id,
            number,
            "call.answered",
            t0 + timedelta(seconds=3),
            connected_at=(t0 + timedelta(seconds=3)).isoformat(),
        ),
    ]
    ring = call_event(
        call_id, number, "call.ringing", t0, status="ringing", started_at=t0.isoformat(), agent_id="agent-7"
    )
    pop = screen_pop(call_id, ring)
    say(
        f"   screen pop: {pop['caller']} is {pop['contact']['name']} (contact {pop['contact']['id']}), "
        f"opportunity {pop['opportunity_id']}, agent {pop['agent']}"
    )
    say("   the rest of the call arrives out of order (QA first, answered last):")
    for event in later:
        emit_from_callcenter(event)

    def record() -> Any:
        with crm.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT id, status, talk_duration_sec, ring_duration_sec, qa_tags, recording_signed_url "
                    "FROM calls WHERE ext_call_id = :c AND connected_at IS NOT NULL AND qa_tags <> '{}'"
                ),
                {"c": call_id},
            ).first()
        return row

    row = wait_for("the call record", record, timeout_s=30)
    say(
        f"   call record {row[0]} on contact {contact}: {row[1]}, rang {row[3]} s, talked {row[2]} s, "
        f"QA {', '.join(row[4])}, recording link on {row[5].split('/')[2]}"
    )
    httpx.post(
        f"{CALLCENTER}/_sandbox/calls",
        json={"calls": [{"call_id": call_id, "recording_ready": True}]},
        timeout=10,
    )
    link = cdc_sync(config, "calls", "recording", str(row[0])).strip()
    say(f"   cdc-sync calls recording {row[0]}: a fresh signed link, {link.split('?')[0]}?…")
    say("   agents with no CRM user wait in: cdc-sync agents unmapped")
    for line in cdc_sync(config, "agents", "unmapped").splitlines()[:3]:
        say(f"     {line}")


def operator_view(config: Path, state: Path, prospects: list[int]) -> None:
    say("== The operator's view")
    steps = [
        ("consumer lag", ["offsets", "show"]),
        (
            "the A-1 prospects against the vendor",
            ["reconcile", "--destination", "marketing", *(f"--object=contact:{i}" for i in prospects)],
        ),
        ("the last audit records", ["audit", "--limit", "5"]),
        ("the latency trend", ["report", "--since", "1h", "--out", str(state / "report.html")]),
    ]
    for what, args in steps:
        say(f"   {what} (cdc-sync {' '.join(args[:2])} ...):")
        for line in cdc_sync(config, *args).splitlines()[:12]:
            say(f"     {line[:150]}")


def main() -> None:
    settings = Settings()
    state = Path(os.environ.get("CDC_SYNC_STATE", Path.home() / ".cache" / "cdc-sync" / "state"))
    group = f"cdc-sync-demo-{uuid.uuid4().hex[:6]}"
    config = demo_config(state, group)
    crm = create_engine(settings.crm_admin_dsn.get_secret_value())
    topics = [f"{settings.topic_prefix}.public.{t}" for t in ("contacts", "contact_tags", "subscriptions")]
    start_from_now(settings, group, topics)
    with (
        background("sandbox", [CLI, "sandbox"], state / "logs" / "demo-sandbox.log"),
        background("cdc-sync run", [CLI, "--config", str(config), "run"], state / "logs" / "demo-run.log"),
        background(
            "cdc-sync serve", [CLI, "--config", str(config), "serve"], state / "logs" / "demo-serve.log"
        ),
    ):
        wait_for("the sandboxes", lambda: httpx.get(f"{MARKETING}/_sandbox/faults").is_success, timeout_s=30)
        cdc_sync(config, "destinations", "resume", "marketing")  # a pause left by an earlier demo
        prospects = story_a1(crm, config)
        story_d2(crm, config)
        wait_for("cdc-sync serve", lambda: httpx.get("http://127.0.0.1:8000/readyz").is_success, timeout_s=30)
        story_c1(crm, config)
        story_call(crm, config)
        operator_view(config, state, prospects)
    say("== done. Stop the stack with: make stack-down")


if __name__ == "__main__":
    main()
