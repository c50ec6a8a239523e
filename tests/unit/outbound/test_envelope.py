"""Decoding real Debezium records (captured from the stack, tests/fixtures/golden/)."""

import base64
import json
import struct
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cdc_sync.errors import RejectedEvent, SchemaUnknown
from cdc_sync.events import ChangeEvent, entity_name
from cdc_sync.outbound.envelope import UNKNOWN_SCHEMA_TRIES, EnvelopeDecoder, RawMessage, split_wire_format

GOLDEN = Path(__file__).parents[2] / "fixtures" / "golden"


class FixtureSchemas:
    """The writer schemas stored beside the golden records, looked up by id like the registry."""

    def __init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.lookups = 0
        for path in GOLDEN.glob("*.json"):
            for schema_id, schema in json.loads(path.read_text())["schemas"].items():
                self.by_id[int(schema_id)] = schema

    def schema(self, schema_id: int) -> dict[str, Any]:
        self.lookups += 1
        return self.by_id[schema_id]


def golden(name: str) -> RawMessage:
    document = json.loads((GOLDEN / f"{name}.json").read_text())
    value = document["value"]
    return RawMessage(
        topic=document["topic"],
        partition=document["partition"],
        offset=document["offset"],
        key=base64.b64decode(document["key"]),
        value=None if value is None else base64.b64decode(value),
    )


def decode(name: str, schemas: FixtureSchemas | None = None) -> ChangeEvent | None:
    return EnvelopeDecoder(schemas or FixtureSchemas()).decode(golden(name))


def decoded(name: str) -> ChangeEvent:
    event = decode(name)
    assert event is not None
    return event


def test_insert_decodes_row_types_and_position() -> None:
    event = decoded("00-contacts-create")
    assert event.op == "c"
    assert event.table == "public.contacts"
    assert event.before is None
    assert event.after is not None
    assert event.key == {"id": event.after["id"]}
    assert event.after["health_score"] == Decimal("87.25")
    assert event.after["country"] == "DE"
    assert isinstance(event.after["created_at"], datetime)
    assert event.after["created_at"].tzinfo is not None
    assert event.source.topic == "crm.public.contacts"
    assert event.source.lsn is not None and event.source.lsn > 0
    assert event.source.tx_id is not None
    assert event.source.commit_ts.tzinfo == UTC
    assert event.source.snapshot is False


def test_update_carries_before_and_after_images() -> None:
    event = decoded("01-contacts-update")
    assert event.op == "u"
    assert event.before is not None and event.after is not None
    assert event.before["health_score"] == Decimal("87.25")
    assert event.after["health_score"] == Decimal("91.50")
    assert event.after["locale"] == "de-DE"
    assert event.after["version"] == event.before["version"] + 1


def test_delete_has_only_the_before_image() -> None:
    event = decoded("02-contacts-delete")
    assert event.op == "d"
    assert event.after is None
    assert event.row["email"].startswith("golden-")


def test_changes_of_one_row_follow_log_order() -> None:
    events = [decoded(name) for name in ("00-contacts-create", "01-contacts-update", "02-contacts-delete")]
    lsns = [event.source.lsn or 0 for event in events]
    assert lsns == sorted(lsns)
    assert len({event.key["id"] for event in events}) == 1


def test_tombstone_decodes_to_none() -> None:
    assert decode("03-contacts-tombstone") is None


def test_json_column_is_parsed_and_offset_timestamp_normalised() -> None:
    event = decoded("04-activities-create")
    assert event.after is not None
    assert event.after["details"] == {"text": "hi", "n": [1, 2]}
    assert event.after["occurred_at"] == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_schemas_are_fetched_once_per_id() -> None:
    schemas = FixtureSchemas()
    decoder = EnvelopeDecoder(schemas)
    for name in ("00-contacts-create", "01-contacts-update", "02-contacts-delete"):
        decoder.decode(golden(name))
    assert schemas.lookups == 2  # one key schema, one value schema


def test_wire_format_header_is_checked() -> None:
    assert split_wire_format(b"\x00" + struct.pack(">I", 7) + b"xy") == (7, b"xy")
    with pytest.raises(RejectedEvent, match="magic byte"):
        split_wire_format(b"\x01\x00\x00\x00\x07xy")
    with pytest.raises(RejectedEvent, match="too short"):
        split_wire_format(b"\x00\x00")


def test_truncated_payload_is_rejected_with_reason() -> None:
    message = golden("00-contacts-create")
    assert message.value is not None
    broken = RawMessage(message.topic, message.partition, message.offset, message.key, message.value[:20])
    with pytest.raises(RejectedEvent, match="does not match schema id"):
        EnvelopeDecoder(FixtureSchemas()).decode(broken)


def test_entities_are_named_in_the_singular() -> None:
    assert entity_name("public.contacts", [42]) == "contact:42"
    assert entity_name("public.opportunities", [7]) == "opportunity:7"
    assert entity_name("public.contact_tags", [42, 3]) == "contact_tag:42,3"
    assert decoded("00-contacts-create").entity.startswith("contact:")


def test_schemas_a_batch_still_needs_are_known_before_decoding_and_loaded_on_request() -> None:
    schemas = FixtureSchemas()
    decoder = EnvelopeDecoder(schemas)
    record = golden("00-contacts-create")
    framed = [record.key, record.value, None, b"not framed"]
    unseen = decoder.unseen_schemas(framed)
    assert unseen == {split_wire_format(data)[0] for data in framed[:2] if data is not None}
    decoder.prepare(unseen)
    looked_up = schemas.lookups
    assert decoder.unseen_schemas(framed) == set()
    assert decoder.decode(record) is not None
    assert schemas.lookups == looked_up


class UnusableSchemas(FixtureSchemas):
    """The registry answering for the value schema with something fastavro or the decoder cannot use."""

    def __init__(self, value_schema: Any) -> None:
        super().__init__()
        self.value_schema = value_schema

    def schema(self, schema_id: int) -> dict[str, Any]:
        return self.value_schema if schema_id == 4 else super().schema(schema_id)


@pytest.mark.parametrize(
    "value_schema",
    [
        {"type": "record", "name": "X", "fields": [{"type": "string"}]},
        {"type": "record", "name": "X", "fields": [{"name": "before", "type": ["null", "string"]}]},
        {"type": "record", "name": "X", "fields": [{"name": "after", "type": ["null", "Value"]}]},
        {"type": "record", "name": "X", "fields": "nope"},
    ],
    ids=["field-without-name", "before-without-row", "unknown-named-type", "fields-not-a-list"],
)
def test_an_unusable_writer_schema_is_unknown_then_its_records_are_rejected(value_schema: Any) -> None:
    """Found by `make fuzz`: prepare let fastavro's SchemaParseException, a KeyError or a
    StopIteration out, which the runner does not catch; now it is SchemaUnknown, retried a
    bounded number of times, and then the records are dead letters like any unknown id's."""
    decoder = EnvelopeDecoder(UnusableSchemas(value_schema))
    record = golden("00-contacts-create")
    unseen = decoder.unseen_schemas([record.key, record.value])
    for _ in range(UNKNOWN_SCHEMA_TRIES - 1):
        with pytest.raises(SchemaUnknown, match="not a usable Avro schema"):
            decoder.prepare(unseen)
    decoder.prepare(unseen)
    with pytest.raises(SchemaUnknown):
        decoder.decode(record)
