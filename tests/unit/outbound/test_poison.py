"""One bad record never stops the stream: poison becomes a dead letter with its bytes, an
outage of the registry is waited out without losing or dead-lettering anything."""

import asyncio
import base64
from typing import Any

import pytest

from cdc_sync.errors import CdcSyncError, SchemaUnknown, StackUnavailable
from cdc_sync.observability import metrics
from cdc_sync.outbound.envelope import UNKNOWN_SCHEMA_TRIES, RawMessage
from cdc_sync.outbound.poison import poison_letter, stored_record
from cdc_sync.store.dead_letters import DeadLetter
from tests.unit.outbound.test_envelope import FixtureSchemas
from tests.unit.outbound.test_loop_watch import (
    CONTACT_CHANGES,
    FakeChangeSource,
    RecordingLane,
    runner,
)

CREATE = CONTACT_CHANGES[0]
VALUE = CREATE.value or b""
Headers = tuple[tuple[str, bytes | None], ...]


def record(offset: int, value: bytes | None = None, headers: Headers = ()) -> RawMessage:
    return RawMessage(CREATE.topic, CREATE.partition, offset, CREATE.key, value or VALUE, headers)


def with_schema_id(value: bytes, schema_id: int) -> bytes:
    return value[:1] + schema_id.to_bytes(4, "big") + value[5:]


class UnknownIds(FixtureSchemas):
    """The registry as it answers for an id it does not hold."""

    def schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id not in self.by_id:
            raise SchemaUnknown(schema_id, "404")
        return super().schema(schema_id)


class Down(FixtureSchemas):
    """A registry that cannot be reached for the first `outages` lookups."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    def schema(self, schema_id: int) -> dict[str, Any]:
        if self.outages:
            self.outages -= 1
            raise StackUnavailable("schema registry: connection refused")
        return super().schema(schema_id)


POISONS = {
    "bad magic byte": b"\x07" + VALUE[1:],
    "truncated avro": VALUE[: len(VALUE) // 2],
    "too short": b"\x00\x00",
}


@pytest.mark.parametrize("kind", list(POISONS))
def test_a_poison_record_between_two_good_ones_is_one_letter_with_its_bytes(
    kind: str, letters: list[DeadLetter]
) -> None:
    lane, consumer = RecordingLane(), FakeChangeSource()
    headers = (("trace", b"abc"),)
    batch = [record(10), record(11, POISONS[kind], headers), record(12)]
    asyncio.run(runner(lane, FixtureSchemas(), consumer)._handle(batch))
    assert lane.offsets == [10, 12]  # both good ones delivered, in order
    (letter,) = letters
    assert letter.payload["offset"] == 11 and "undecodable record" in letter.reason
    assert base64.b64decode(letter.payload["value_b64"]) == POISONS[kind]
    assert base64.b64decode(letter.payload["key_b64"]) == CREATE.key
    assert letter.payload["headers"] == [["trace", base64.b64encode(b"abc").decode()]]
    assert consumer.sought == []


def test_an_unknown_schema_id_is_asked_again_then_dead_lettered_and_the_stream_goes_on(
    letters: list[DeadLetter],
) -> None:
    lane, consumer = RecordingLane(), FakeChangeSource()
    batch = [record(20), record(21, with_schema_id(VALUE, 999_999)), record(22)]

    async def handle() -> None:
        the_runner = runner(lane, UnknownIds(), consumer)
        for _ in range(UNKNOWN_SCHEMA_TRIES):
            the_runner._deps._failing.clear()  # no backoff between tries in a unit test
            await the_runner._handle(batch)

    asyncio.run(handle())
    # Tried (and sought back) while the id might still appear, then a letter and the rest flows.
    assert consumer.sought == [(CREATE.topic, CREATE.partition, 20)] * (UNKNOWN_SCHEMA_TRIES - 1)
    assert lane.offsets == [20, 22]
    (letter,) = letters
    assert letter.payload["schema_id"] == 999_999 and "999999" in letter.reason


def test_a_registry_outage_seeks_back_waits_and_resumes_by_itself(letters: list[DeadLetter]) -> None:
    lane, consumer = RecordingLane(), FakeChangeSource()
    batch = [record(30), record(31)]

    async def handle() -> list[float]:
        the_runner = runner(lane, Down(outages=1), consumer)
        await the_runner._handle(batch)
        up = [metrics.DEPENDENCY_UP.labels("registry")._value.get()]
        await the_runner._handle(batch)  # the next poll reads it again
        return [*up, metrics.DEPENDENCY_UP.labels("registry")._value.get()]

    gauge = asyncio.run(handle())
    assert consumer.sought == [(CREATE.topic, CREATE.partition, 30)]
    assert lane.offsets == [30, 31] and letters == []  # nothing lost, nothing dead-lettered
    assert gauge == [0.0, 1.0]


def test_a_mapper_that_breaks_is_that_destinations_letter_and_the_others_still_get_the_change() -> None:
    from cdc_sync.mapping.routes import MapInput, Mapped
    from cdc_sync.outbound.pipeline import Route, plan_event
    from tests.unit.outbound.test_pipeline import CONTACT, NO_LOOKUPS, ROUTES, event

    def broken(item: MapInput) -> Mapped:
        raise KeyError("merge_fields")

    routes = dict(ROUTES)
    routes["public.contacts"] = [
        Route(r.destination, r.config, broken) if r.destination == "marketing" else r
        for r in ROUTES["public.contacts"]
    ]
    plan = plan_event(event("public.contacts", "c", CONTACT), routes, lambda e: 1, {"*": "crm"}, NO_LOOKUPS)
    (rejection,) = plan.rejections
    assert rejection.destination == "marketing" and "KeyError" in rejection.reason
    assert {d.destination for d in plan.deliveries} == {"helpdesk", "hooks"}


def test_a_contract_check_that_breaks_is_a_letter_of_the_event() -> None:
    from cdc_sync.outbound.pipeline import plan_event
    from tests.unit.outbound.test_pipeline import CONTACT, NO_LOOKUPS, ROUTES, event

    def broken(change: Any) -> int:
        raise TypeError("unhashable type")

    plan = plan_event(event("public.contacts", "c", CONTACT), ROUTES, broken, {"*": "crm"}, NO_LOOKUPS)
    assert plan.deliveries == [] and [r.contract for r in plan.rejections] == [True]


def test_a_poison_letter_gives_back_the_record_it_keeps() -> None:
    headers = (("trace", b"\x00"), ("n", None))
    raw = RawMessage("crm.public.contacts", 2, 40, None, POISONS["truncated avro"], headers)
    assert stored_record(poison_letter(raw, ValueError("x")).payload) == raw
    with pytest.raises(CdcSyncError, match="malformed"):
        stored_record({"topic": "t", "partition": 0, "offset": 1, "key_b64": "%%", "value_b64": None})
