"""The operator toolkit on the real stack: offsets, dead letters, reconciliation, audit, report."""

import json
import os
import tomllib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import Engine, make_url, text

from cdc_sync.errors import SchemaUnknown
from cdc_sync.outbound.envelope import RawMessage
from cdc_sync.outbound.poison import poison_letter
from cdc_sync.settings import Settings
from cdc_sync.store.dead_letters import add_dead_letter
from cdc_sync.store.operator_locks import destination_locks
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from tests.integration.outbound_fixtures import (
    Process,
    Runner,
    request_keys,
    sandbox,
    start_group_at_the_end,
    wait_for,
)
from tests.integration.test_inbound import LIST_SECRET, applied, emit, list_event, one, zendesk_event
from tests.integration.test_outbound import (
    MAILCHIMP_AUTH,
    ZENDESK_AUTH,
    add_contacts,
    member,
    request_count,
    requests_to,
    subscribe,
)

CONTACTS_TOPIC = "crm.public.contacts"
SCHEDULED_METRICS_PORT = 9121
# The session's credentials (from `ops/stack.sh env`): canaries no log line may carry.
SECRET_VARIABLES = [
    "CDC_SYNC_MAILCHIMP_API_KEY",
    "CDC_SYNC_ZENDESK_API_TOKEN",
    "CDC_SYNC_HELPDESK_WEBHOOK_SECRET",
    "CDC_SYNC_ERP_WEBHOOK_SECRET",
    "CDC_SYNC_MARKETING_WEBHOOK_SECRET",
    "CDC_SYNC_MARKETING_LIST_SECRET",
    "CDC_SYNC_CALLCENTER_WEBHOOK_SECRET",
    "CDC_SYNC_HELPDESK_CSAT_SECRET",
]


def tag() -> str:
    return uuid.uuid4().hex[:8]


def cli_json(runner: Runner, *args: str) -> Any:
    done = runner.cli(*args, "--json")
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return json.loads(done.stdout)


def ledger(state: Engine, entity: str, operation: str) -> list[dict[str, Any]]:
    with state.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT idempotency_key, outcome, topic, kafka_partition, kafka_offset "
                "FROM cdc_sync.deliveries WHERE entity = :e AND operation = :o ORDER BY id"
            ),
            {"e": entity, "o": operation},
        )
        return [dict(row._mapping) for row in rows]


def test_rewind_is_refused_while_running_and_redelivers_without_duplicate_effects(
    crm: Engine, state: Engine, runner: Runner
) -> None:
    emails = [f"rewind-{tag()}-{i}@example.com" for i in range(3)]
    ids = add_contacts(crm, emails, first_name="Rewind")
    wait_for("the members", lambda: all(member(email) for email in emails))
    first = wait_for("the ledger", lambda: ledger(state, f"contact:{ids[0]}", "member.upsert"))[0]
    partition, offset = first["kafka_partition"], first["kafka_offset"]
    rewind = ["offsets", "rewind", "--topic", CONTACTS_TOPIC, "--partition", str(partition)]
    rewind += ["--to-offset", str(offset)]

    refused = runner.cli(*rewind, "--yes")
    assert refused.returncode == 1 and "active member" in refused.stderr and "cdc-sync run" in refused.stderr
    preview = cli_json(runner, *rewind, "--dry-run")
    (move,) = preview["partitions"]
    assert (move["to"], preview["applied"]) == (offset, False)
    assert move["reread"] >= 1 and {"marketing", "helpdesk"} <= set(preview["destinations"])

    assert runner.stop() == 0
    before = request_count("marketing")
    done = cli_json(runner, *rewind, "--yes")
    assert done["applied"] is True
    shown = cli_json(runner, "offsets", "show")
    lag = [p for p in shown["partitions"] if (p["topic"], p["partition"]) == (CONTACTS_TOPIC, partition)]
    assert lag[0]["committed"] == offset and lag[0]["lag"] >= 1
    runner.start()

    key = first["idempotency_key"]
    wait_for(
        "the re-read change sent again",
        lambda: any(key in request_keys(r) for r in requests_to("marketing", before)),
    )
    effects = sandbox("marketing", "GET", "/_sandbox/effects")["effects"]
    assert effects[key] == 1  # sent twice, applied once: the idempotency key held
    # Everything re-read is delivered again before the next test changes the vendors' faults.
    wait_for("the re-read events delivered", lambda: cli_json(runner, "offsets", "show")["total_lag"] == 0)
    (audited,) = cli_json(runner, "audit", "--action", "offsets.rewind", "--limit", "1")
    assert audited["object"] == f"group:{shown['group']}/topic:{CONTACTS_TOPIC}"
    assert audited["after"] == {str(partition): offset}


def open_letters(runner: Runner, entity: str, destination: str) -> list[dict[str, Any]]:
    found = cli_json(runner, "dlq", "list", "--object", entity, "--destination", destination)
    return sorted(found, key=lambda letter: letter["id"])


def test_refused_deliveries_replay_in_order_once_the_vendor_accepts(crm: Engine, runner: Runner) -> None:
    email = f"dlq-{tag()}@example.com"
    sandbox("marketing", "PUT", "/_sandbox/faults", json={"reject_status": 400})
    (cid,) = add_contacts(crm, [email], first_name="Refused")
    subscribe(crm, cid)
    entity = f"contact:{cid}"
    wait_for("two refused deliveries", lambda: len(open_letters(runner, entity, "marketing")) == 2)
    first = open_letters(runner, entity, "marketing")
    shown = cli_json(runner, "dlq", "show", str(first[0]["id"]))
    assert "400" in shown["reason"] and [a["status_code"] for a in shown["attempts"]] == [400]
    still_refused = runner.cli("dlq", "replay", *(str(letter["id"]) for letter in first), "--json")
    assert still_refused.returncode == 1
    outcomes = [r["outcome"] for r in json.loads(still_refused.stdout)["results"]]
    assert outcomes == ["failed_again", "skipped"]  # the status change waits for the upsert
    sandbox("marketing", "PUT", "/_sandbox/faults", json={})

    # Open now: the status change, and the upsert refused again under a new, higher id. The replay
    # still sends the upsert first: letters go in the order of their changes, not of their ids.
    letters = open_letters(runner, entity, "marketing")
    assert len(letters) == 2 and letters[0]["id"] == first[1]["id"]
    before = request_count("marketing")
    replayed = cli_json(runner, "dlq", "replay", *(str(letter["id"]) for letter in letters))
    assert [r["outcome"] for r in replayed["results"]] == ["replayed", "replayed"]
    assert (member(email) or {}).get("status") == "subscribed"
    sent = [r for r in requests_to("marketing", before) if r["method"] == "PUT"]
    assert all(r["path"].endswith(subscriber_hash(email)) for r in sent)
    assert [sorted(r["body"]) for r in sent] == [  # the upsert, then the status change: in order
        ["email_address", "merge_fields", "status_if_new"],
        ["email_address", "status", "status_if_new"],
    ]
    assert cli_json(runner, "dlq", "show", str(first[0]["id"]))["status"] == "replayed"
    trail = cli_json(runner, "audit", "--object", entity, "--action", "dlq.replay")
    outcomes = sorted(record["details"]["outcome"] for record in trail)
    assert outcomes == ["failed_again", "replayed", "replayed"]


def test_fresh_replay_sends_the_row_as_it_is_now_and_discard_closes_a_letter(
    crm: Engine, state: Engine, runner: Runner
) -> None:
    (cid,) = add_contacts(crm, [f"not-an-email-{tag()}"])
    entity = f"contact:{cid}"
    wait_for("letters for both destinations", lambda: open_letters(runner, entity, "helpdesk"))
    (marketing,) = wait_for("the marketing letter", lambda: open_letters(runner, entity, "marketing"))
    (helpdesk,) = open_letters(runner, entity, "helpdesk")
    with destination_locks(state, ["marketing"]):  # another operator's replay is under way
        busy = runner.cli("dlq", "replay", str(marketing["id"]))
        resume = runner.cli("destinations", "resume", "marketing")
        other = runner.cli("dlq", "replay", str(helpdesk["id"]), "--json")  # another destination: free
    assert busy.returncode == 1 and "destination marketing is busy" in busy.stderr
    assert resume.returncode == 1 and "destination marketing is busy" in resume.stderr
    assert json.loads(other.stdout)["results"][0]["outcome"] == "rejected"  # it ran: the email is invalid
    stale = runner.cli("dlq", "replay", str(marketing["id"]), "--json")
    assert stale.returncode == 1 and "did not go through" in stale.stderr
    assert json.loads(stale.stdout)["results"][0]["outcome"] == "rejected"  # the payload's email is invalid

    email = f"fixed-{tag()}@example.com"
    with crm.begin() as conn:
        conn.execute(text("UPDATE contacts SET email = :e WHERE id = :c"), {"e": email, "c": cid})
    fresh = cli_json(runner, "dlq", "replay", str(marketing["id"]), "--fresh")
    assert fresh["results"][0]["outcome"] == "replayed" and fresh["results"][0]["delivered"] >= 1
    assert member(email) is not None

    missing_reason = runner.cli("dlq", "discard", str(helpdesk["id"]))
    assert missing_reason.returncode == 2 and "--reason" in missing_reason.stderr
    discarded = cli_json(runner, "dlq", "discard", str(helpdesk["id"]), "--reason", "fixed in the CRM")
    assert discarded["status"] == "discarded"
    assert open_letters(runner, entity, "helpdesk") == []
    (record,) = cli_json(runner, "audit", "--object", entity, "--action", "dlq.discard")
    assert record["details"]["reason"] == "fixed in the CRM"


def test_logs_carry_no_secret_and_mask_personal_data(crm: Engine, runner: Runner, inbound: Process) -> None:
    canary = f"canary.pii.{tag()}@example.com"
    phone = "+1 415 555 0199"
    answer = emit(
        "marketing",
        "marketing-lists",
        list_event("unsubscribe", canary, datetime.now(UTC)),
        query=f"?secret={LIST_SECRET}",
    )
    assert answer["status"] == 200, answer
    writer_log = inbound.log

    def masked_in_writer_log() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in writer_log.read_text().splitlines() if line.startswith("{")]
        return [line for line in lines if "no CRM contact with email c***@example.com" in line["message"]]

    wait_for("the writer's JSON line about the unmatched email", masked_in_writer_log)
    add_contacts(crm, [canary], phone=phone, first_name="Canary")
    wait_for("the canary contact delivered", lambda: member(canary))
    logs = [runner.log, writer_log, writer_log.with_name("serve.log")]
    text_of_logs = "\n".join(log.read_text() for log in logs)
    secrets = [os.environ[name] for name in SECRET_VARIABLES]
    dsns = ("CDC_SYNC_CRM_DSN", "CDC_SYNC_CRM_ADMIN_DSN")
    secrets += [str(make_url(os.environ[dsn]).password) for dsn in dsns]
    leaked = [value for value in [canary, phone, "4155550199", *secrets] if value in text_of_logs]
    assert leaked == [], f"found in {', '.join(map(str, logs))}"


def test_report_plots_the_live_ledger(crm: Engine, runner: Runner, tmp_path: Path) -> None:
    email = f"report-{tag()}@example.com"
    add_contacts(crm, [email])
    wait_for("a delivery to report on", lambda: member(email))
    out = tmp_path / "report.html"
    summary = wait_for(
        "the acknowledgement in the ledger",
        lambda: next(
            (
                row
                for row in cli_json(runner, "report", "--since", "1h", "--out", str(out))["destinations"]
                if row["destination"] == "marketing" and row["acknowledged"]
            ),
            None,
        ),
    )
    assert 0 < summary["success_rate"] <= 1 and summary["end_to_end_ms"]["p99"] > 0
    page = out.read_text()
    assert page.count("<svg") >= 3 and "marketing: end-to-end" in page
    bad = runner.cli("report", "--since", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr


def vendor(method: str, url: str, auth: tuple[str, str], body: dict[str, Any] | None = None) -> None:
    httpx.request(method, url, auth=auth, json=body, timeout=10).raise_for_status()


def test_reconcile_finds_drift_made_behind_our_back_and_fix_settles_it(crm: Engine, runner: Runner) -> None:
    run = tag()
    emails = [f"recon-{run}-{i}@example.com" for i in range(2)]
    gone, drifted = add_contacts(crm, emails, first_name="Recon")
    wait_for("both members", lambda: all(member(email) for email in emails))
    members = "http://127.0.0.1:9101/3.0/lists/crm-audience/members"
    vendor("DELETE", f"{members}/{subscriber_hash(emails[0])}", MAILCHIMP_AUTH)
    drift = {"email_address": emails[1], "merge_fields": {"FNAME": "Drifted"}}
    vendor("PUT", f"{members}/{subscriber_hash(emails[1])}", MAILCHIMP_AUTH, drift)
    stranger = {"email": f"stranger-{run}@example.com", "name": "Stranger", "external_id": f"x-{run}"}
    vendor("POST", "http://127.0.0.1:9102/api/v2/users/create_or_update", ZENDESK_AUTH, {"user": stranger})

    (helpdesk,) = cli_json(runner, "reconcile", "--destination", "helpdesk")  # every page: finds extras
    assert any(d["result"] == "extra" and f"x-{run}" in d["key"] for d in helpdesk["differences"])
    scope = ["reconcile", "--destination", "marketing", "--object", f"contact:{gone}"]
    scope += ["--object", f"contact:{drifted}"]
    (found,) = cli_json(runner, *scope)
    assert (found["counts"]["missing"], found["counts"]["differing"], found["difference_rate"]) == (1, 1, 1.0)
    (differing,) = [d for d in found["differences"] if d["result"] == "differing"]
    assert differing["fields"] == [{"field": "merge_fields.FNAME", "crm": "Recon", "vendor": "Drifted"}]

    unconfirmed = runner.cli(*scope, "--fix")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    (fixed,) = cli_json(runner, *scope, "--fix", "--yes")
    assert (fixed["fix"]["fixed"], fixed["fix"]["difference_rate_after"]) == (2, 0.0)
    (after,) = cli_json(runner, *scope)
    assert after["difference_rate"] == 0.0 and (member(emails[1]) or {})["merge_fields"]["FNAME"] == "Recon"
    (audited,) = cli_json(runner, "audit", "--object", f"contact:{drifted}", "--action", "reconcile.fix")
    assert audited["before"]["merge_fields.FNAME"] == "Drifted"


def test_reconciliation_runs_on_a_schedule_inside_run(runner: Runner, tmp_path: Path) -> None:
    config = tomllib.loads(runner.config.read_text())
    group = f"cdc-sync-test-scheduled-{tag()}"
    config["consumer"].update(group_id=group, metrics_port=SCHEDULED_METRICS_PORT)
    config["reconcile"] = {"interval_s": 2.0, "sample": 5, "fix": False}
    path = tmp_path / "scheduled.toml"
    path.write_text(tomli_w.dumps(config))
    tables = {table for destination in config["destinations"].values() for table in destination["tables"]}
    start_group_at_the_end(os.environ["CDC_SYNC_KAFKA_BOOTSTRAP"], group, [f"crm.{t}" for t in tables])
    scheduled = Runner.for_config(path, tmp_path / "scheduled.log")
    scheduled.ready_url = f"http://127.0.0.1:{SCHEDULED_METRICS_PORT}/metrics"
    scheduled.start()
    try:
        gauge = 'cdc_sync_reconcile_difference_ratio{destination="marketing"}'
        wait_for("a scheduled pass", lambda: gauge in httpx.get(str(scheduled.ready_url)).text, timeout_s=60)
    finally:
        assert scheduled.stop() == 0, scheduled.log.read_text()[-2000:]
    passes = cli_json(runner, "audit", "--action", "reconcile.run", "--object", "destination:marketing")
    assert passes[0]["actor"] == "cdc-sync run (scheduled reconcile)"
    assert passes[0]["details"]["sample"] == 5


def test_keeping_the_crm_value_keeps_what_the_crm_holds_now(
    crm: Engine, state: Engine, runner: Runner, inbound: Process
) -> None:
    ticket = f"A300-{tag()}"
    email = f"keep-crm-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email, first_name) VALUES (:e, 'Crm') RETURNING id", e=email)[0]
    insert = "INSERT INTO tickets (external_id, contact_id, subject, status) VALUES (:t, :c, 'X', 'Open')"
    ticket_id = one(crm, insert + " RETURNING id", t=ticket, c=contact)[0]
    vendor_time = datetime.now(UTC) - timedelta(minutes=1)
    one(crm, "UPDATE tickets SET status = 'Pending' WHERE external_id = :t RETURNING id", t=ticket)
    event = zendesk_event(ticket, "status_changed", vendor_time, status="SOLVED")
    emit("helpdesk", "helpdesk", event)
    assert applied(state, "helpdesk", event["id"])[0] == "conflict"
    listing = cli_json(runner, "conflicts", "list")
    conflict = next(c for c in listing if c["event_id"] == event["id"] and c["field"] == "status")
    assert conflict["crm_value"] == "Pending"
    one(crm, "UPDATE tickets SET status = 'Open' WHERE external_id = :t RETURNING id", t=ticket)  # later edit

    resolved = runner.cli("conflicts", "resolve", str(conflict["id"]), "--keep", "crm")
    assert resolved.returncode == 0, resolved.stderr
    assert "'Open'" in resolved.stdout
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Open"
    again = runner.cli("conflicts", "resolve", str(conflict["id"]), "--keep", "vendor")
    assert again.returncode != 0 and "already resolved" in again.stderr
    (record,) = cli_json(runner, "audit", "--action", "conflict.resolve", "--object", f"ticket:{ticket_id}")
    assert (record["before"], record["after"]) == ({"status": "Open"}, {"status": "Open"})


def raw_record(settings: Settings, topic: str, partition: int, offset: int) -> RawMessage:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"raw-{tag()}"})
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        message = wait_for("the raw record", lambda: consumer.poll(1.0), timeout_s=30)
        assert message.error() is None and message.offset() == offset
        return RawMessage(topic, partition, offset, message.key(), message.value(), ())
    finally:
        consumer.close()


def test_a_poison_letter_is_decoded_again_on_replay(
    crm: Engine, state: Engine, runner: Runner, settings: Settings
) -> None:
    """As after `run` met a record before its schema was readable: the letter keeps the bytes."""
    email = f"poison-replay-{tag()}@example.com"
    (cid,) = add_contacts(crm, [email])
    wait_for("the member", lambda: member(email))
    first = wait_for("the ledger", lambda: ledger(state, f"contact:{cid}", "member.upsert"))[0]
    raw = raw_record(settings, first["topic"], first["kafka_partition"], first["kafka_offset"])
    good = add_dead_letter(state, poison_letter(raw, SchemaUnknown(0, "not yet registered")))
    truncated = replace(raw, value=(raw.value or b"")[:-3])
    broken = add_dead_letter(state, poison_letter(truncated, ValueError("truncated")))
    assert cli_json(runner, "dlq", "show", str(good))["kind"] == "record"

    replayed = cli_json(runner, "dlq", "replay", str(good))
    (result,) = replayed["results"]
    assert (result["outcome"], result["status"]) == ("replayed", "replayed") and result["delivered"] >= 1
    effects = sandbox("marketing", "GET", "/_sandbox/effects")["effects"]
    assert effects[first["idempotency_key"]] == 1  # the same change as the live one: applied once

    still = runner.cli("dlq", "replay", str(broken), "--json")
    assert still.returncode == 1
    (result,) = json.loads(still.stdout)["results"]
    assert result["outcome"] == "rejected" and "still undecodable" in result["reason"]
    assert cli_json(runner, "dlq", "show", str(broken))["status"] == "open"
