"""Marketing in depth on the real stack: consent evidence for every consent change in either
direction (the CRM's own and the platform's), segments and sends, the merge queue, gray release."""

import json
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.exc import ProgrammingError

from cdc_sync.rules.rollout import contacts_in
from cdc_sync.settings import Settings
from cdc_sync.store.tables import inbox
from cdc_sync.vendors.mailchimp.sandbox_members import subscriber_hash
from tests.integration.outbound_fixtures import (
    ROOT,
    Process,
    Runner,
    sandbox,
    start_group_at_the_end,
    wait_for,
)
from tests.integration.test_inbound import LIST_SECRET, applied, emit, list_event, one
from tests.integration.test_operator import cli_json
from tests.integration.test_outbound import MAILCHIMP_AUTH, add_contacts, member


def tag() -> str:
    return uuid.uuid4().hex[:8]


def evidence(crm: Engine, contact: int) -> list[dict[str, Any]]:
    with crm.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, consent_type, consent_source, captured_from, captured_by, details "
                "FROM consent_evidence WHERE contact_id = :c ORDER BY id"
            ),
            {"c": contact},
        ).mappings()
        return [dict(row) for row in rows]


def subscribe(
    conn: Connection, contacts: list[int], source: str, consent_type: str = "newsletter", days_ago: int = 0
) -> None:
    """The contacts subscribed to the audience, with consent from `source` given `days_ago`."""
    conn.execute(
        text(
            "INSERT INTO subscriptions (contact_id, list_id, status, consent_timestamp, consent_source, "
            "consent_type) SELECT unnest(CAST(:c AS bigint[])), 'crm-audience', 'subscribed', "
            "now() - make_interval(days => :d), :s, :t"
        ),
        {"c": contacts, "d": days_ago, "s": source, "t": consent_type},
    )


def member_status(email: str) -> str | None:
    found = member(email)
    return None if found is None else str(found["status"])


def test_every_consent_change_in_either_direction_leaves_evidence(
    crm: Engine, inbound: Process, runner: Runner, settings: Settings
) -> None:
    # The CRM's own change: a sign-up, then an unsubscribe by a named CRM user.
    email = f"consent-{tag()}@example.com"
    contact = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=email)[0]
    with crm.begin() as conn:
        subscribe(conn, [contact], "signup-form", consent_type="marketing")
    wait_for("the member subscribed on the platform", lambda: member_status(email) == "subscribed" or None)
    with crm.begin() as conn:
        conn.execute(text("SET LOCAL crm.actor = 'jane@crm.example'"))
        conn.execute(
            text(
                "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now(), "
                "unsubscribe_reason = 'asked by phone' WHERE contact_id = :c"
            ),
            {"c": contact},
        )
    wait_for(
        "the member unsubscribed on the platform", lambda: member_status(email) == "unsubscribed" or None
    )
    subscribed, unsubscribed = evidence(crm, contact)
    assert (subscribed["status"], subscribed["consent_type"], subscribed["consent_source"]) == (
        "subscribed",
        "marketing",
        "signup-form",
    )
    assert (subscribed["captured_from"], subscribed["captured_by"]) == (
        "crm",
        "crm_owner",
    )  # the DBA's session
    assert (unsubscribed["status"], unsubscribed["captured_from"], unsubscribed["captured_by"]) == (
        "unsubscribed",
        "crm",
        "jane@crm.example",
    )
    assert unsubscribed["details"] == {
        "list_id": "crm-audience",
        "previous_status": "subscribed",
        "unsubscribe_reason": "asked by phone",
    }

    # The platform's change: a list unsubscribe webhook with its reason.
    other = f"consent-{tag()}@example.com"
    member = one(crm, "INSERT INTO contacts (email) VALUES (:e) RETURNING id", e=other)[0]
    with crm.begin() as conn:
        subscribe(conn, [member], "import", days_ago=1)
    opt_out = list_event("unsubscribe", other, datetime.now(UTC))
    opt_out["data"]["reason"] = "abuse"
    assert emit("marketing", "marketing-lists", opt_out, query=f"?secret={LIST_SECRET}")["status"] == 200
    wait_for("the platform's opt-out in the CRM", lambda: len(evidence(crm, member)) == 2 or None)
    last = evidence(crm, member)[-1]
    assert (last["status"], last["captured_from"], last["captured_by"]) == (
        "unsubscribed",
        "marketing",
        "marketing",
    )
    assert last["details"]["unsubscribe_reason"] == "abuse"
    reason = one(crm, "SELECT unsubscribe_reason FROM subscriptions WHERE contact_id = :c", c=member)[0]
    assert reason == "abuse"

    # Evidence is appended, never rewritten, also by cdc-sync's own writer role.
    writer = create_engine(settings.crm_dsn.get_secret_value())
    try:
        with pytest.raises(ProgrammingError, match="permission denied"), writer.begin() as conn:
            conn.execute(
                text("UPDATE consent_evidence SET status = 'subscribed' WHERE contact_id = :c"), {"c": member}
            )
    finally:
        writer.dispose()


def pushed_to_marketing(state: Engine, contacts: list[int]) -> bool:
    with state.connect() as conn:
        done = conn.execute(
            text(
                "SELECT count(DISTINCT entity) FROM cdc_sync.deliveries WHERE destination = 'marketing' "
                "AND outcome = 'ok' AND entity = ANY(CAST(:e AS text[]))"
            ),
            {"e": [f"contact:{c}" for c in contacts]},
        ).scalar_one()
    return int(done) == len(contacts)


def test_a_segment_of_1200_contacts_is_pushed_counted_trimmed_and_sent_to(
    crm: Engine, state: Engine, runner: Runner
) -> None:
    run = tag()
    with crm.begin() as conn:
        contacts = list(
            conn.execute(
                text("INSERT INTO contacts (email) SELECT 'seg-' || :r || '-' || n || '@example.com' "
                     "FROM generate_series(1, 1200) AS n RETURNING id"),
                {"r": run},
            ).scalars()
        )  # fmt: skip
        subscribe(conn, contacts[:40], "signup-form")
        segment = conn.execute(
            text("INSERT INTO segments (name, rule) VALUES (:n, 'spring promo') RETURNING id"),
            {"n": f"spring-{run}"},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO segment_members (segment_id, contact_id) SELECT :s, unnest(CAST(:c AS bigint[]))"
            ),
            {"s": segment, "c": contacts},
        )
    wait_for(
        "the 1,200 contacts on the platform", lambda: pushed_to_marketing(state, contacts), timeout_s=120
    )

    def sync() -> dict[str, Any]:
        done = runner.cli("segments", "sync", f"spring-{run}", "--json")
        assert done.returncode == 0, done.stderr + done.stdout
        (push,) = json.loads(done.stdout)
        return dict(push)

    first = sync()
    assert (first["added"], first["removed"], first["refused"]) == (1200, 0, 0)
    assert (first["crm_count"], first["vendor_count"], first["counts_agree"]) == (1200, 1200, True)
    external_id = one(crm, "SELECT external_id FROM segments WHERE id = :s", s=segment)[0]
    assert external_id == first["segment_id"]

    with crm.begin() as conn:  # one member leaves the segment
        conn.execute(
            text("DELETE FROM segment_members WHERE segment_id = :s AND contact_id = :c"),
            {"s": segment, "c": contacts[-1]},
        )
    second = sync()
    assert (second["added"], second["removed"], second["vendor_count"]) == (0, 1, 1199)

    sent = runner.cli(
        "campaigns", "send", f"spring-{run}", "--campaign-template", "77", "--subject", "Spring is here",
        "--from-name", "CRM team", "--reply-to", "crm@example.com", "--json",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    campaign = json.loads(sent.stdout)
    assert (campaign["status"], campaign["recipient_count"]) == ("sending", 40)  # the subscribed members

    def delivered() -> dict[str, Any] | None:
        status = runner.cli("campaigns", "status", campaign["id"], "--json")
        assert status.returncode == 0, status.stderr
        found = json.loads(status.stdout)
        return found if found["status"] == "sent" else None

    assert wait_for("the campaign sent", delivered, timeout_s=30)["emails_sent"] == 40
    trail = runner.cli("audit", "--action", "segment.push", "--object", f"segment:{segment}", "--json")
    assert [entry["details"]["removed"] for entry in json.loads(trail.stdout)] == [1, 0]  # newest first
    sends = runner.cli(
        "audit", "--action", "campaign.send", "--object", f"campaign:{campaign['id']}", "--json"
    )
    assert len(json.loads(sends.stdout)) == 1


def test_a_count_the_platform_does_not_reach_raises_an_alert_and_fails_the_sync(
    crm: Engine, state: Engine, runner: Runner
) -> None:
    run = tag()
    with crm.begin() as conn:
        stranger = conn.execute(
            # not an address: never delivered, so never a member the platform could add to a segment
            text("INSERT INTO contacts (email) VALUES (:e) RETURNING id"),
            {"e": f"nowhere-{run}"},
        ).scalar_one()
        segment = conn.execute(
            text("INSERT INTO segments (name) VALUES (:n) RETURNING id"), {"n": f"odd-{run}"}
        ).scalar_one()
        conn.execute(
            text("INSERT INTO segment_members (segment_id, contact_id) VALUES (:s, :c)"),
            {"s": segment, "c": stranger},
        )
    done = runner.cli("segments", "sync", f"odd-{run}", "--json")
    assert done.returncode == 1, done.stderr
    (push,) = json.loads(done.stdout)
    assert (push["refused"], push["vendor_count"], push["counts_agree"]) == (1, 0, False)
    with state.connect() as conn:
        alert = conn.execute(
            text("SELECT message FROM cdc_sync.alerts WHERE kind = 'segment_count' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert f"odd-{run}" in alert


def test_an_email_two_contacts_share_waits_in_the_merge_queue_until_resolved(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    email = f"twin-{tag()}@example.com"
    with crm.begin() as conn:
        first, second = conn.execute(
            text("INSERT INTO contacts (email) VALUES (:e), (upper(:e)) RETURNING id"), {"e": email}
        ).scalars()
        subscribe(conn, [first, second], "form", days_ago=1)
    opt_out = list_event("unsubscribe", email, datetime.now(UTC))
    answer = emit("marketing", "marketing-lists", opt_out, query=f"?secret={LIST_SECRET}")
    event_id = json.loads(answer["body"])["event_id"]
    assert applied(state, "marketing-lists", event_id)[0] == "ambiguous"

    masked = runner.cli("merges", "list", "--json")
    assert masked.returncode == 0 and email not in masked.stdout  # personal data masked by default
    listed = runner.cli("--show-pii", "merges", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (review,) = [r for r in json.loads(listed.stdout) if r["match_key"] == f"email:{email}"]
    trail = json.loads(runner.cli("audit", "--action", "cli.show_pii", "--limit", "1", "--json").stdout)
    assert trail[0]["details"]["command"] == "cdc-sync merges list"
    assert (review["candidates"], review["waiting"]) == ([first, second], 1)
    refused = runner.cli("merges", "resolve", str(review["id"]), "--keep", "1")
    assert refused.returncode != 0 and "not one of" in refused.stderr

    resolved = runner.cli("merges", "resolve", str(review["id"]), "--keep", str(second))
    assert resolved.returncode == 0, resolved.stderr
    wait_for(
        "the waiting opt-out applied",
        lambda: applied(state, "marketing-lists", event_id)[0] == "done" or None,
    )
    statuses = dict(
        one_all(
            crm,
            "SELECT contact_id, status FROM subscriptions WHERE contact_id IN (:a, :b)",
            a=first,
            b=second,
        )
    )
    assert statuses == {first: "subscribed", second: "unsubscribed"}
    trail = runner.cli("audit", "--action", "merge.resolve", "--object", f"contact:{second}", "--json")
    (entry,) = json.loads(trail.stdout)
    assert entry["details"]["released"] == 1


def one_all(crm: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with crm.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


GRAY_METRICS_PORT = 9125


@dataclass(frozen=True)
class Gray:
    runner: Runner
    name: str  # the destination's, new each time (a rollout set by the CLI outlives the process)
    audience: str


@pytest.fixture
def gray(settings: Settings, sandboxes: None, tmp_path: Path) -> Iterator[Gray]:
    """A `cdc-sync run` of its own feeding one Mailchimp audience rolled out to 10% of the contacts."""
    name, group = f"gray-{tag()}", f"cdc-sync-test-gray-{tag()}"
    config = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    destination = {**config["destinations"]["marketing"], "list_id": name, "tables": ["public.contacts"]}
    config["destinations"] = {name: {**destination, "rollout": 0.1}}
    config["consumer"].update(group_id=group, metrics_port=GRAY_METRICS_PORT)
    config["contracts_dir"] = str(ROOT / "schemas")
    config.pop("reconcile", None)
    path = tmp_path / "gray.toml"
    path.write_text(tomli_w.dumps(config))
    start_group_at_the_end(settings.kafka_bootstrap, group, [f"{settings.topic_prefix}.public.contacts"])
    started = Runner.for_config(path, tmp_path / "gray.log")
    started.ready_url = f"http://127.0.0.1:{GRAY_METRICS_PORT}/metrics"
    started.start()
    try:
        yield Gray(started, name, audience=name)
    finally:
        assert started.stop() == 0, started.log.read_text()[-3000:]


def audience_emails(audience: str) -> set[str]:
    page = sandbox("marketing", "GET", f"/3.0/lists/{audience}/members?count=1000", auth=MAILCHIMP_AUTH)
    return {str(item["email_address"]) for item in page["members"]}


def test_a_rollout_of_a_tenth_syncs_its_share_and_widening_pushes_the_rest(crm: Engine, gray: Gray) -> None:
    runner, name, audience = gray.runner, gray.name, gray.audience
    run = tag()
    emails = [f"gray-{run}-{i}@example.com" for i in range(300)]
    ids = add_contacts(crm, emails, first_name="Gray")
    email_of = dict(zip(ids, emails, strict=True))
    share = {email_of[contact] for contact in contacts_in(ids, 0.1)}
    assert 10 <= len(share) <= 60  # the stable hash gives about a tenth (30 expected)

    wait_for("the share synced", lambda: audience_emails(audience) >= share, timeout_s=90)
    wait_for(
        "every other contact skipped",
        lambda: runner.metric("cdc_sync_outside_rollout_total", destination=name) >= len(ids) - len(share),
        timeout_s=90,
    )
    assert audience_emails(audience) == share
    objects = [arg for contact in ids for arg in ("--object", f"contact:{contact}")]
    (compared,) = cli_json(runner, "reconcile", "--destination", name, *objects)  # the share only
    assert (compared["counts"]["match"], compared["difference_rate"]) == (len(share), 0.0)

    widened = runner.cli("destinations", "rollout", name, "1.0")
    assert widened.returncode == 0, widened.stderr
    everyone = [row[0] for row in one_all(crm, "SELECT id FROM contacts")]  # the CRM's, not only ours
    assert f"pushed {len(everyone) - len(contacts_in(everyone, 0.1))} contacts" in widened.stdout
    (after,) = cli_json(runner, "reconcile", "--destination", name, *objects)  # now all of ours
    assert (after["counts"]["match"], after["difference_rate"]) == (len(ids), 0.0)
    (listed,) = cli_json(runner, "destinations", "list")
    assert listed["rollout"] == 1.0
    (audited,) = cli_json(
        runner, "audit", "--object", f"destination:{name}", "--action", "destination.rollout"
    )
    assert (audited["before"], audited["after"]) == (0.1, 1.0)
    narrowed = runner.cli("destinations", "rollout", name, "0.5")
    assert narrowed.returncode == 2 and "only widens" in narrowed.stderr


def put_member(email: str, status: str) -> None:
    """A change made on the platform itself, whose webhook cdc-sync never received."""
    body = {"email_address": email, "status": status, "status_if_new": status}
    sandbox(
        "marketing",
        "PUT",
        f"/3.0/lists/crm-audience/members/{subscriber_hash(email)}",
        json=body,
        auth=MAILCHIMP_AUTH,
    )


def test_a_marketing_backfill_merges_missed_consent_changes_by_the_consent_rules(
    crm: Engine, state: Engine, inbound: Process, runner: Runner
) -> None:
    """Members changed on the platform while its webhooks were lost: an unsubscribe is taken with
    its reason, a re-subscribe of an opted-out contact is refused (no newer consent evidence), an
    address the CRM does not know waits unmatched; a second backfill stores nothing new."""
    with state.begin() as conn:
        conn.execute(text("DELETE FROM cdc_sync.backfill_cursors WHERE name = 'marketing:marketing'"))
    run = tag()
    kept, opted_out, unknown = (f"{who}-{run}@example.com" for who in ("kept", "optedout", "unknown"))
    contacts = add_contacts(crm, [kept, opted_out])
    with crm.begin() as conn:
        subscribe(conn, [contacts[0]], "signup-form", days_ago=3)
        conn.execute(
            text(
                "INSERT INTO subscriptions (contact_id, list_id, status, unsubscribed_at) "
                "VALUES (:c, 'crm-audience', 'unsubscribed', now() - interval '2 days')"
            ),
            {"c": contacts[1]},
        )

    def on_the_platform() -> bool:
        statuses = (member_status(kept), member_status(opted_out))
        return pushed_to_marketing(state, contacts) and statuses == ("subscribed", "unsubscribed")

    wait_for("both contacts on the platform as the CRM has them", on_the_platform)
    since = datetime.now(UTC)
    put_member(kept, "unsubscribed")
    put_member(opted_out, "subscribed")
    put_member(unknown, "subscribed")

    first = cli_json(runner, "backfill", "marketing", "--since", since.isoformat())
    again = cli_json(runner, "backfill", "marketing", "--since", since.isoformat())
    assert first["stored"] >= 3 and again["events"] >= 3 and first["resumed_after"] is None
    emails = {kept: contacts[0], opted_out: contacts[1]}

    def merged() -> dict[str, tuple[str, str]] | None:
        # Through the table, the e-mail read in Python: the event's data is stored sealed.
        statement = select(inbox.c.data, inbox.c.status, inbox.c.result).where(
            inbox.c.source == "marketing-lists", inbox.c.received_at >= since
        )
        with state.connect() as conn:
            found_rows = [(row.data.get("email"), row.status, row.result) for row in conn.execute(statement)]
        rows = [row for row in found_rows if row[0] in (kept, opted_out, unknown)]
        if len(rows) > 3:
            pytest.fail(f"a change stored twice: {rows}")
        found = {row[0]: (row[1], row[2]) for row in rows}
        return found if len(found) == 3 and all(s != "pending" for s, _ in found.values()) else None

    outcomes = wait_for("the backfilled changes merged", merged)
    assert {email: status for email, (status, _) in outcomes.items()} == {
        kept: "done",
        opted_out: "refused",
        unknown: "unmatched",
    }
    status, reason = one_all(
        crm, "SELECT status, unsubscribe_reason FROM subscriptions WHERE contact_id = :c", c=emails[kept]
    )[0]
    assert (status, reason) == ("unsubscribed", "N/A (Unsubscribed by an admin)")
    assert one_all(crm, "SELECT status FROM subscriptions WHERE contact_id = :c", c=emails[opted_out]) == [
        ("unsubscribed",)
    ]
