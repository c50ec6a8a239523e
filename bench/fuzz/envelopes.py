"""The outbound decoder under hostile input: Kafka records and schema-registry answers.

`envelope`: the golden Debezium records (tests/fixtures/golden) cut, flipped, re-framed with a bad
magic byte or an unknown schema id, or replaced by random bytes, through one long-lived
`EnvelopeDecoder` whose schemas are the golden ones (any other id is unknown).
`registry`: a golden record whose value schema the registry (`SchemaRegistry` over
`httpx.MockTransport`) answers with garbage: errors, non-JSON, schemas that are not strings, not
JSON, not Avro, or golden ones mutated.

The runner calls `prepare` (allowed to raise `StackUnavailable` / `SchemaUnknown`: it then waits)
and then `decode` (allowed to raise the `RejectedEvent` family: a dead letter, or
`StackUnavailable`). Anything else escaping either is a crash.
"""

import base64
import json
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st

from bench.fuzz.hostile import Json, json_bytes, maybe_spliced, mutated, spliced, values
from bench.fuzz.tally import Observation
from cdc_sync.errors import RejectedEvent, SchemaUnknown, StackUnavailable
from cdc_sync.outbound.envelope import UNKNOWN_SCHEMA_TRIES, EnvelopeDecoder, RawMessage
from cdc_sync.outbound.registry import SchemaRegistry

GOLDEN = Path(__file__).parents[2] / "tests" / "fixtures" / "golden"
DECODED, REFUSED, RETRY_LATER = 200, 422, 429  # how the table counts a decoder's outcomes


@dataclass(frozen=True)
class Golden:
    records: tuple[RawMessage, ...]
    schemas: dict[int, dict[str, Any]]
    key_ids: frozenset[int]


def _framed_id(data: bytes | None) -> int | None:
    return int.from_bytes(data[1:5], "big") if data and len(data) >= 5 else None


def load_golden(folder: Path = GOLDEN) -> Golden:
    records, schemas = [], {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text())
        value = document["value"]
        records.append(
            RawMessage(
                topic=document["topic"],
                partition=document["partition"],
                offset=document["offset"],
                key=base64.b64decode(document["key"]),
                value=None if value is None else base64.b64decode(value),
            )
        )
        schemas.update({int(i): schema for i, schema in document["schemas"].items()})
    key_ids = frozenset(i for i in map(_framed_id, (r.key for r in records)) if i is not None)
    return Golden(tuple(records), schemas, key_ids)


@dataclass(frozen=True)
class FixtureSchemas:
    """The registry as it answers for the golden schemas: any other id is unknown."""

    by_id: dict[int, dict[str, Any]]

    def schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id not in self.by_id:
            raise SchemaUnknown(schema_id, "GET /schemas/ids: 404 (fuzz)")
        return self.by_id[schema_id]


# --- records ----------------------------------------------------------------------------------
schema_ids = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 7, 8, 2**31 - 1, 2**32 - 1]), st.integers(0, 2**32 - 1)
)


def _with_id(data: bytes, schema_id: int) -> bytes:
    return data[:1] + schema_id.to_bytes(4, "big") + data[5:]


@st.composite
def framed_variant(draw: st.DrawFn, data: bytes | None) -> bytes | None:
    """One hostile version of a key or value (a tombstone stays one now and then)."""
    framed = data or b"\x00\x00\x00\x00\x04"
    how = draw(st.sampled_from(["random", "magic", "short", "truncated", "splice", "splice", "id", "none"]))
    if how == "random":
        return draw(st.binary(max_size=600))
    if how == "magic":
        return bytes([draw(st.integers(1, 255))]) + framed[1:]
    if how == "short":
        return framed[: draw(st.integers(0, 5))]
    if how == "truncated":
        return framed[: draw(st.integers(5, max(len(framed) - 1, 5)))]
    if how == "id":
        return _with_id(framed, draw(schema_ids))
    if how == "none":
        return None
    for _ in range(draw(st.integers(1, 4))):
        framed = draw(spliced(framed))
    return framed


@st.composite
def records(draw: st.DrawFn, golden: Golden) -> RawMessage:
    base = draw(st.sampled_from(golden.records))
    value, key = base.value, base.key
    part = draw(st.sampled_from(["value", "value", "value", "key", "both", "swap"]))
    if part == "swap":  # each decoded with the other's schema
        key, value = value, key
    if part in ("value", "both"):
        value = draw(framed_variant(value))
    if part in ("key", "both"):
        key = draw(framed_variant(key))
    return RawMessage(base.topic, base.partition, draw(st.integers(0, 2**63 - 1)), key, value)


def decode_observation(decoder: EnvelopeDecoder, message: RawMessage) -> Observation:
    """What the runner would see: prepare, then decode."""
    try:
        decoder.prepare(decoder.unseen_schemas([message.key, message.value]))
    except SchemaUnknown:
        pass  # the runner waits and asks again; an unknown id ends as a dead letter
    except Exception as exc:
        return _crash("prepare", exc)
    return _decoded(decoder, message)


def _decoded(decoder: EnvelopeDecoder, message: RawMessage) -> Observation:
    """The decode step, once its schemas are prepared: only what the runner handles may come out."""
    try:
        decoder.decode(message)
    except RejectedEvent:
        return Observation(REFUSED)
    except StackUnavailable:
        return Observation(RETRY_LATER)
    except Exception as exc:
        return _crash("decode", exc)
    return Observation(DECODED)


def _crash(where: str, exc: Exception) -> Observation:
    """One finding per step and exception type; the message and traceback go with the example."""
    error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    return Observation(None, crashed=True, cause=f"{where} raised {type(exc).__name__}", error=error)


# --- registry answers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryAnswer:
    status: int
    body: bytes
    kind: str

    def describe(self) -> dict[str, Any]:
        return {"status": self.status, "kind": self.kind, "body": self.body[:4000].decode("utf-8", "replace")}


def _schema_answer(schema: Json) -> bytes:
    schema_text = json_bytes(schema, ascii_only=True).decode()
    return json.dumps({"schema": schema_text}).encode()


ODD_SCHEMAS: tuple[Json, ...] = (
    "string",
    "null",
    {"type": "record", "name": "X", "fields": []},
    {"type": "record", "name": "X", "fields": [{"name": "before", "type": "string"}]},
    {"type": "record", "name": "X", "fields": [{"name": "before", "type": ["null", "string"]}]},
    {"type": "record", "name": "X", "fields": [{"name": "op", "type": "string"}]},
    {"type": "record", "name": "X", "fields": [{"type": "string"}]},
    {"type": "record", "name": "X", "fields": "nope"},
    {"type": "enum", "name": "E", "symbols": ["c"]},
    [],
    {},
)


@st.composite
def registry_answers(draw: st.DrawFn, golden: Golden) -> RegistryAnswer:
    value_ids = sorted(set(golden.schemas) - golden.key_ids)
    schema = golden.schemas[draw(st.sampled_from(value_ids))]
    how = draw(
        st.sampled_from(["golden", "mutated", "mutated", "odd", "not_string", "document", "bytes", "status"])
    )
    if how == "golden":
        return RegistryAnswer(200, _schema_answer(schema), how)
    if how == "mutated":
        return RegistryAnswer(200, _schema_answer(draw(mutated(schema, max_mutations=4))), how)
    if how == "odd":
        return RegistryAnswer(200, _schema_answer(draw(st.sampled_from(ODD_SCHEMAS))), how)
    if how == "not_string":
        return RegistryAnswer(200, b'{"schema": ' + json_bytes(draw(values), ascii_only=True) + b"}", how)
    if how == "document":
        return RegistryAnswer(200, json_bytes(draw(values), ascii_only=True), how)
    if how == "bytes":
        return RegistryAnswer(200, draw(maybe_spliced(_schema_answer(schema), chance_in_8=8)), how)
    status = draw(st.sampled_from([204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503]))
    return RegistryAnswer(status, draw(st.binary(max_size=64)), how)


def _registry(golden: Golden, answer: RegistryAnswer) -> SchemaRegistry:
    def handle(request: httpx.Request) -> httpx.Response:
        schema_id = int(request.url.path.rsplit("/", 1)[-1])
        if schema_id in golden.key_ids:
            return httpx.Response(200, content=_schema_answer(golden.schemas[schema_id]))
        return httpx.Response(answer.status, content=answer.body)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://registry.fuzz")
    return SchemaRegistry("http://registry.fuzz", client=client)


def registry_observation(golden: Golden, answer: RegistryAnswer) -> Observation:
    """A fresh decoder (so no answer is cached from another input) meets this registry answer."""
    decoder = EnvelopeDecoder(_registry(golden, answer))
    message = next(r for r in golden.records if r.value is not None)
    try:
        _prepare_patiently(decoder, message)
    except Exception as exc:
        return _crash("prepare", exc)
    return _decoded(decoder, message)


def _prepare_patiently(decoder: EnvelopeDecoder, message: RawMessage) -> None:
    """As the runner does: ask again after an outage or an unknown id, a few times."""
    for _ in range(UNKNOWN_SCHEMA_TRIES + 1):
        try:
            decoder.prepare(decoder.unseen_schemas([message.key, message.value]))
            return
        except (StackUnavailable, SchemaUnknown):
            continue
