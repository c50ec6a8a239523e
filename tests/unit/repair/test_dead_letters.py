"""Dead-letter replay rules: what a letter is, whether it may replay, keys, order."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from cdc_sync.config import DestinationConfig
from cdc_sync.errors import CdcSyncError
from cdc_sync.events import ChangeEvent, SourcePosition
from cdc_sync.mapping.routes import NOTHING
from cdc_sync.model.delivery import Delivery, VendorRequest
from cdc_sync.outbound.envelope import RawMessage
from cdc_sync.outbound.pipeline import Route
from cdc_sync.outbound.poison import poison_letter
from cdc_sync.repair.dead_letter_rules import (
    LetterResult,
    ReplayReport,
    attempt_keys,
    blocked_by,
    letter_destinations,
    replay_kind,
    replay_order,
    replay_problem,
    replay_record,
    routes_for,
    row_key,
)
from cdc_sync.store.dead_letters import StoredLetter

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SOURCE = SourcePosition(topic="crm.public.contacts", partition=1, offset=7, lsn=99, tx_id=5, commit_ts=AT)
CONFIGURED = ("marketing", "helpdesk")


def event(contact_id: int = 42) -> ChangeEvent:
    row = {"id": contact_id, "email": "not-an-email"}
    return ChangeEvent(
        op="c",
        table="public.contacts",
        key={"id": contact_id},
        before=None,
        after=row,
        source=SOURCE,
        schema_id=4,
    )


def delivery(entity: str = "contact:42", key: str = "k1") -> Delivery:
    return Delivery(
        destination="marketing",
        entity=entity,
        table="public.contacts",
        operation="member.upsert",
        request=VendorRequest(method="PUT", path="/3.0/lists/x/members/abc", body={"email_address": "a@b.c"}),
        idempotency_key=key,
        source=SOURCE,
    )


def letter(letter_id: int = 1, payload: Any = None, **changes: Any) -> StoredLetter:
    base = StoredLetter(
        id=letter_id,
        at=AT,
        destination="marketing",
        entity="contact:42",
        table="public.contacts",
        reason="invalid email",
        payload=event().model_dump(mode="json") if payload is None else payload,
        response=None,
        idempotency_key=None,
        status="open",
        topic=SOURCE.topic,
        partition=SOURCE.partition,
        offset=SOURCE.offset,
        lsn=SOURCE.lsn,
        commit_ts=AT,
    )
    return replace(base, **changes)


UNDECODABLE = letter(
    3,
    {"topic": "crm.public.contacts", "offset": 11},
    destination=None,
    entity=None,
    table=None,
    topic=None,
    partition=None,
    offset=None,
    lsn=None,
    commit_ts=None,
)


RECORD = replace(
    UNDECODABLE,
    id=4,
    payload=poison_letter(
        RawMessage("crm.public.contacts", 1, 12, b"k", b"\x00\x00\x00\x00\x09v", (("h", b"1"),)),
        ValueError("truncated"),
    ).payload,
)


def test_letters_are_told_apart_by_what_their_payload_holds() -> None:
    assert replay_kind(letter(payload=delivery().model_dump(mode="json"), idempotency_key="k1")) == "delivery"
    assert replay_kind(letter()) == "event"
    assert replay_kind(UNDECODABLE) == "undecodable"
    assert replay_kind(RECORD) == "record"
    assert replay_problem(RECORD, CONFIGURED, None) is None
    assert replay_kind(letter(payload={"something": "else"})) == "unknown"
    assert replay_kind(replace(letter(), payload=None)) == "unknown"


def test_an_undecodable_letter_says_how_to_re_read_its_record() -> None:
    problem = replay_problem(UNDECODABLE, CONFIGURED, None)
    assert problem is not None
    assert problem.startswith("letter 3 cannot be replayed: the record could not be decoded")
    assert (
        "`cdc-sync offsets rewind --topic crm.public.contacts --partition <partition> --to-offset 11`"
        in problem
    )
    with_partition = replace(
        UNDECODABLE, payload={"topic": "crm.public.contacts", "partition": 2, "offset": 11}
    )
    assert "--partition 2 --to-offset 11" in str(replay_problem(with_partition, CONFIGURED, None))


@pytest.mark.parametrize("status", ["replayed", "discarded"])
def test_only_open_letters_replay_and_the_error_names_the_status(status: Any) -> None:
    assert replay_problem(letter(7, status=status), CONFIGURED, None) == (
        f"dead letter 7 is {status}; only open letters can be replayed"
    )


def test_destination_filter_and_unconfigured_destinations_are_problems() -> None:
    assert replay_problem(letter(), CONFIGURED, None) is None
    assert replay_problem(letter(), CONFIGURED, "marketing") is None
    assert replay_problem(letter(), CONFIGURED, "helpdesk") == "dead letter 1 is for marketing, not helpdesk"
    assert "every destination, not helpdesk" in str(
        replay_problem(letter(destination=None), CONFIGURED, "helpdesk")
    )
    assert replay_problem(letter(destination=None), CONFIGURED, None) is None
    assert "'crm2', which is not configured" in str(
        replay_problem(letter(destination="crm2"), CONFIGURED, None)
    )


def test_an_entity_names_its_row_by_the_tables_primary_key() -> None:
    assert row_key("contact:42", [("id", int)]) == {"id": 42}
    assert row_key("contact_tag:42,7", [("contact_id", int), ("tag_id", int)]) == {
        "contact_id": 42,
        "tag_id": 7,
    }
    assert row_key("deal:ab-1", [("code", str)]) == {"code": "ab-1"}


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ("contact:42", r"primary key \(contact_id, tag_id\)"),  # a tag delivery is ordered per contact
        ("contact", "does not name a row"),
        ("contact:", "does not name a row"),
        ("contact:x,y", "not a number"),
    ],
)
def test_entities_that_name_no_single_row_are_errors(entity: str, message: str) -> None:
    with pytest.raises(CdcSyncError, match=message):
        row_key(entity, [("contact_id", int), ("tag_id", int)])


def result(
    letter_id: int, status: Any = "open", destination: str | None = "marketing", **kw: Any
) -> LetterResult:
    outcome = kw.pop("outcome", "rejected" if status == "open" else "replayed")
    return LetterResult(letter_id, kw.pop("entity", "contact:42"), destination, outcome, status, **kw)


def test_a_letter_waits_for_an_earlier_open_one_of_its_entity_and_destination() -> None:
    later = letter(9)
    assert blocked_by(later, [result(5)]) == 5
    assert blocked_by(later, [result(5, status="replayed")]) is None
    assert blocked_by(later, [result(5, destination="helpdesk")]) is None  # other lane, own order
    assert blocked_by(later, [result(5, destination=None)]) == 5  # a letter for every destination
    assert blocked_by(letter(9, destination=None), [result(5, destination="helpdesk")]) == 5
    assert blocked_by(later, [result(5, entity="contact:43")]) is None
    refused_again = result(5, status="replayed", outcome="failed_again", new_letters=(12,))
    assert blocked_by(later, [refused_again]) == 5  # the change is still undelivered


def test_letters_replay_in_the_order_the_changes_happened() -> None:
    assert [found.id for found in replay_order([letter(9), letter(2), letter(5)])] == [2, 5, 9]
    # A refused delivery is written after its retries: a later change's rejection gets a lower id.
    refused, rejected = letter(7, lsn=100), letter(6, lsn=200)
    assert [found.id for found in replay_order([rejected, refused])] == [7, 6]
    assert [found.id for found in replay_order([letter(3, lsn=None), letter(8, lsn=5)])] == [8, 3]


def test_a_letter_replays_through_its_own_destinations_route_or_every_route_of_its_table() -> None:
    def route(name: str) -> Route:
        config = DestinationConfig(
            kind="webhook", system="crm", base_url="http://x", tables=("public.contacts",)
        )
        return Route(name, config, lambda _item: NOTHING)

    routes = {"public.contacts": [route("marketing"), route("helpdesk")], "public.tags": [route("marketing")]}
    assert [r.destination for r in routes_for(routes, "public.contacts", "helpdesk")["public.contacts"]] == [
        "helpdesk"
    ]
    assert len(routes_for(routes, "public.contacts", None)["public.contacts"]) == 2
    assert routes_for(routes, "public.deals", None) == {"public.deals": []}


def test_what_a_replay_did_is_recorded_with_the_requests_it_sent() -> None:
    sent = (delivery(key="k2"),)
    done = result(4, status="replayed", outcome="failed_again", sent=sent, refused=1, new_letters=(12,))
    record = replay_record(done, fresh=True)
    assert record["letter"] == 4 and record["fresh"] is True and record["outcome"] == "failed_again"
    assert record["new_letters"] == [12]
    assert record["deliveries"] == [
        {
            "destination": "marketing",
            "entity": "contact:42",
            "operation": "member.upsert",
            "idempotency_key": "k2",
        }
    ]
    assert done.delivered == 0
    assert result(5, status="replayed", sent=sent).delivered == 1
    assert result(6, outcome="halted", sent=sent).delivered == 0


def test_attempts_are_those_of_the_letter_and_of_its_replays() -> None:
    refused = letter(payload=delivery().model_dump(mode="json"), idempotency_key="k1")
    history: list[dict[str, Any]] = [
        {"details": {"deliveries": [{"entity": "contact:42", "idempotency_key": "k2"}]}},
        {"details": {"deliveries": [{"entity": "contact:42", "idempotency_key": "k1"}]}},
        {"details": {"reason": "discarded"}},
    ]
    assert attempt_keys(refused, history) == [("contact:42", "k1"), ("contact:42", "k2")]
    assert attempt_keys(letter(), []) == []


def test_report_counts_every_outcome() -> None:
    report = ReplayReport((result(1, status="replayed"), result(2), result(3, outcome="skipped")))
    assert report.counts() == {"replayed": 1, "failed_again": 0, "rejected": 1, "halted": 0, "skipped": 1}


def test_a_replay_locks_the_destinations_its_letters_may_send_to() -> None:
    assert letter_destinations([letter(1), letter(2, destination="helpdesk")], CONFIGURED) == {
        "marketing",
        "helpdesk",
    }
    assert letter_destinations([letter(1)], CONFIGURED) == {"marketing"}
    assert letter_destinations([letter(1), RECORD], CONFIGURED) == set(CONFIGURED)  # of none: any


def test_letters_of_no_known_entity_do_not_wait_for_each_other() -> None:
    earlier = LetterResult(3, None, None, "rejected", "open", "still undecodable", (), 0, ())
    assert blocked_by(RECORD, [earlier]) is None
