"""Debezium envelopes in Confluent wire format, decoded into `ChangeEvent`s.

Wire format: magic byte 0, a 4-byte big-endian schema id, then Avro binary written with that
schema. The writer schema is fetched from the registry by id, so a schema change mid-stream
(ALTER TABLE) simply arrives as a new id and is decoded with its own schema.
"""

import io
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import fastavro

from cdc_sync.errors import RejectedEvent, SchemaUnknown, StackUnavailable
from cdc_sync.events import ChangeEvent, Op, SourcePosition
from cdc_sync.outbound.logical_types import RowConverter

_MAGIC = 0
_HEADER = struct.Struct(">bI")
_OPS: frozenset[str] = frozenset({"c", "u", "d", "r"})
# A schema id the registry does not know is asked for again this often before its records are
# dead letters: a record can reach a consumer before its schema is readable everywhere.
UNKNOWN_SCHEMA_TRIES = 3


class SchemaSource(Protocol):
    def schema(self, schema_id: int) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RawMessage:
    """A Kafka record as it came off the wire."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def split_wire_format(data: bytes) -> tuple[int, bytes]:
    """(schema id, Avro payload) of a Confluent-framed message."""
    if len(data) < _HEADER.size:
        raise RejectedEvent(f"message of {len(data)} bytes is too short for Confluent wire format")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise RejectedEvent(f"message starts with byte {magic}, not the Confluent magic byte 0")
    return schema_id, data[_HEADER.size :]


class _Reader:
    """A parsed writer schema plus the converter for the row records inside it."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.parsed = fastavro.parse_schema(dict(schema))
        self.row_schema = row_record(schema)
        self.rows = RowConverter(self.row_schema)

    def read(self, payload: bytes) -> dict[str, Any]:
        return cast(dict[str, Any], fastavro.schemaless_reader(io.BytesIO(payload), self.parsed))


def row_record(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The table-row record: the `before` field's type in an envelope, or the schema itself (keys)."""
    for field in schema.get("fields", []):
        if field["name"] == "before":
            return next(branch for branch in field["type"] if isinstance(branch, dict))
    return schema


class EnvelopeDecoder:
    """Turns raw Debezium records into `ChangeEvent`s; tombstones decode to `None`."""

    def __init__(self, schemas: SchemaSource) -> None:
        self._schemas = schemas
        self._readers: dict[int, _Reader] = {}
        self._unknown: dict[int, int] = {}  # schema id → times the registry said it has none

    def decode(self, message: RawMessage) -> ChangeEvent | None:
        """The change a record carries; any record that cannot be one raises `RejectedEvent`."""
        if message.value is None:
            # A tombstone only lets log compaction drop the key; the delete event before it
            # already carried the change.
            return None
        try:
            schema_id, envelope = self._read(message.value)
            if "op" not in envelope or "source" not in envelope:
                raise RejectedEvent(f"{message.topic}: record is not a Debezium change envelope")
            return _change_event(message, schema_id, envelope, self._key(message))
        except (RejectedEvent, StackUnavailable):
            raise
        except Exception as exc:  # a bad logical value, a malformed source block: this record only
            raise RejectedEvent(f"cannot decode: {type(exc).__name__}: {exc}") from exc

    def unseen_schemas(self, records: Iterable[bytes | None]) -> set[int]:
        """Schema ids of these framed records that `decode` would still fetch and parse first."""
        ids = {
            _HEADER.unpack_from(data)[1]
            for data in records
            if data is not None and len(data) >= _HEADER.size and data[0] == _MAGIC
        }
        return ids - self._readers.keys() - {i for i, n in self._unknown.items() if n >= UNKNOWN_SCHEMA_TRIES}

    def prepare(self, schema_ids: Iterable[int]) -> None:
        """Fetch and parse these writer schemas now (in a worker thread: it is network I/O).

        Raises `StackUnavailable` while the registry cannot be read, and `SchemaUnknown` for an
        id it does not know until that was asked `UNKNOWN_SCHEMA_TRIES` times; from then on its
        records decode to `SchemaUnknown` (dead letters) without asking again.
        """
        for schema_id in schema_ids:
            if self._unknown.get(schema_id, 0) >= UNKNOWN_SCHEMA_TRIES:
                continue
            try:
                self._reader(schema_id)
            except SchemaUnknown:
                self._unknown[schema_id] = self._unknown.get(schema_id, 0) + 1
                if self._unknown[schema_id] < UNKNOWN_SCHEMA_TRIES:
                    raise

    def row_schema(self, schema_id: int) -> Mapping[str, Any]:
        """The table-row record of a writer schema (what contracts pin)."""
        return self._reader(schema_id).row_schema

    def _key(self, message: RawMessage) -> dict[str, Any]:
        return self._read(message.key)[1] if message.key is not None else {}

    def _read(self, data: bytes) -> tuple[int, dict[str, Any]]:
        schema_id, payload = split_wire_format(data)
        reader = self._reader(schema_id)
        try:
            record = reader.read(payload)
        except (EOFError, ValueError, IndexError, TypeError) as exc:
            raise RejectedEvent(f"Avro payload does not match schema id {schema_id}: {exc}") from exc
        return schema_id, _convert_images(record, reader.rows)

    def _reader(self, schema_id: int) -> _Reader:
        if self._unknown.get(schema_id, 0) >= UNKNOWN_SCHEMA_TRIES:
            raise SchemaUnknown(schema_id, f"asked {UNKNOWN_SCHEMA_TRIES} times")
        if schema_id not in self._readers:
            self._readers[schema_id] = _reader_of(schema_id, self._schemas.schema(schema_id))
        return self._readers[schema_id]


def _reader_of(schema_id: int, schema: Mapping[str, Any]) -> _Reader:
    """The reader of a writer schema; one fastavro cannot parse, or that is no record with a row
    inside, is as good as unknown: `SchemaUnknown`, so `prepare` retries it a bounded number of
    times and its records end as dead letters, instead of an error that stops the runner."""
    try:
        return _Reader(schema)
    except Exception as exc:  # SchemaParseException, UnknownType, or the shape row_record expects
        detail = f"not a usable Avro schema: {type(exc).__name__}: {exc}"
        raise SchemaUnknown(schema_id, detail[:300]) from exc


def _convert_images(record: dict[str, Any], rows: RowConverter) -> dict[str, Any]:
    if "op" not in record:
        return rows(record)
    for image in ("before", "after"):
        if record.get(image) is not None:
            record[image] = rows(record[image])
    return record


def _change_event(
    message: RawMessage, schema_id: int, envelope: dict[str, Any], key: dict[str, Any]
) -> ChangeEvent:
    op = envelope["op"]
    if op not in _OPS:
        raise RejectedEvent(f"{message.topic}: unsupported Debezium op {op!r}")
    source = envelope["source"]
    return ChangeEvent(
        op=cast(Op, op),
        table=f"{source['schema']}.{source['table']}",
        key=key,
        before=envelope.get("before"),
        after=envelope.get("after"),
        source=_position(message, source),
        schema_id=schema_id,
    )


def _position(message: RawMessage, source: dict[str, Any]) -> SourcePosition:
    commit_us = source.get("ts_us") or source["ts_ms"] * 1000
    return SourcePosition(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        lsn=source.get("lsn"),
        tx_id=source.get("txId"),
        commit_ts=datetime.fromtimestamp(commit_us / 1_000_000, tz=UTC),
        snapshot=source.get("snapshot") not in (None, "false"),
    )
