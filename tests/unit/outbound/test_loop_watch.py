"""The loop watch sees a held event loop; the runner works a batch through in slices, in order."""

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

import pytest
import uvloop
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from cdc_sync.config import AppConfig, DestinationConfig
from cdc_sync.delivery.sender import Done, Lane
from cdc_sync.model.delivery import Delivery
from cdc_sync.outbound.change_source import Partition, Revoked, first_offsets
from cdc_sync.outbound.contracts import Contract, Contracts, field_types
from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage
from cdc_sync.outbound.loop_watch import GIL_SWITCH_S, LoopWatch, TimeSlice, settle_process
from cdc_sync.outbound.pipeline import build_routes
from cdc_sync.outbound.runner import OutboundRunner, RunnerParts
from cdc_sync.store.ledger import LedgerWriter
from tests.unit.outbound.test_envelope import FixtureSchemas, golden

Run = Callable[[Coroutine[Any, Any, None]], None]
# `cdc-sync run` runs on uvloop; asyncio's own loop orders callbacks the same way.
LOOPS = pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])


@LOOPS
def test_a_blocked_loop_is_recorded_as_a_stall_and_as_the_longest(run: Run) -> None:
    watch = LoopWatch()

    async def stall() -> None:
        watching = asyncio.create_task(watch.run())
        await asyncio.sleep(0.01)
        time.sleep(0.05)  # CPU work that never awaits
        await asyncio.sleep(0.01)
        watching.cancel()

    observed = REGISTRY.get_sample_value("cdc_sync_event_loop_stall_seconds_count") or 0.0
    run(stall())
    assert watch.longest_s >= 0.045
    assert (REGISTRY.get_sample_value("cdc_sync_event_loop_longest_stall_seconds") or 0.0) >= watch.longest_s
    assert (REGISTRY.get_sample_value("cdc_sync_event_loop_stall_seconds_bucket", {"le": "0.025"}) or 0) < (
        REGISTRY.get_sample_value("cdc_sync_event_loop_stall_seconds_count") or 0
    )
    assert (REGISTRY.get_sample_value("cdc_sync_event_loop_stall_seconds_count") or 0.0) > observed


def steps_and_timer(run: Run, slice_s: float) -> list[str]:
    """Three steps of CPU work, each longer than a timer that is set before them."""
    order: list[str] = []

    async def timer() -> None:
        await asyncio.sleep(0.001)
        order.append("timer")

    async def work() -> None:
        waiting = asyncio.create_task(timer())
        await asyncio.sleep(0)  # the timer is set
        slice_ = TimeSlice(slice_s)
        for step in range(3):
            order.append(f"step {step}")
            time.sleep(0.003)  # CPU work that never awaits; the timer falls due meanwhile
            await slice_.turn()
        await waiting

    run(work())
    return order


@LOOPS
def test_a_spent_slice_lets_a_timer_due_meanwhile_run_before_the_next_step(run: Run) -> None:
    assert steps_and_timer(run, 0.0) == ["step 0", "timer", "step 1", "step 2"]


@LOOPS
def test_a_slice_not_yet_spent_goes_on_with_the_next_step(run: Run) -> None:
    assert steps_and_timer(run, 60.0) == ["step 0", "step 1", "step 2", "timer"]


class FakeMessage:
    def __init__(self, raw: RawMessage) -> None:
        self._raw = raw

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._raw.topic

    def partition(self) -> int:
        return self._raw.partition

    def offset(self) -> int:
        return self._raw.offset

    def key(self) -> bytes | None:
        return self._raw.key

    def value(self) -> bytes | None:
        return self._raw.value

    def headers(self) -> list[tuple[str, bytes | None]]:
        return list(self._raw.headers)


class FakeChangeSource:
    """A change source in memory: hands out `records` a poll at a time, records the offsets stored
    and where the runner seeks back to (while the registry is unavailable)."""

    def __init__(self, records: Sequence[RawMessage] = ()) -> None:
        self.records = list(records)
        self.stored: dict[Partition, int] = {}
        self.sought: list[tuple[str, int, int]] = []
        self.paused = False
        self.revoked: Revoked = lambda partitions: None

    def open(self, topics: list[str], revoked: Revoked) -> None:
        self.revoked = revoked

    def poll(self, max_records: int, timeout_s: float) -> list[RawMessage]:
        batch, self.records = self.records[:max_records], self.records[max_records:]
        return batch

    def store_offsets(self, offsets: dict[Partition, int]) -> None:
        self.stored.update(offsets)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def seek_back(self, records: Sequence[RawMessage]) -> None:
        self.sought += [
            (topic, partition, offset) for (topic, partition), offset in first_offsets(records).items()
        ]

    def close(self) -> None:
        pass

    def assigned(self) -> int:
        return 1


class RecordingLane:
    def __init__(self) -> None:
        self.offsets: list[int] = []

    def submit(self, delivery: Delivery, done: Done) -> None:
        self.offsets.append(delivery.source.offset)
        done()


class ThreadNotingSchemas(FixtureSchemas):
    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def schema(self, schema_id: int) -> dict[str, Any]:
        self.threads.add(threading.get_ident())
        return super().schema(schema_id)


def runner(
    lane: RecordingLane, schemas: FixtureSchemas, source: FakeChangeSource | None = None
) -> OutboundRunner:
    decoder = EnvelopeDecoder(FixtureSchemas())
    config = AppConfig(
        destinations={
            "hooks": DestinationConfig(
                kind="webhook", system="erp", base_url="http://e", path="/in", tables=("public.contacts",)
            )
        }
    )
    contract = Contract("crm.public.contacts-value", {1: field_types(decoder.row_schema(4))})
    parts = RunnerParts(
        source=source or FakeChangeSource(),
        topic_prefix="crm",
        config=config,
        engine=cast(Engine, None),  # contact changes look nothing up
        decoder=EnvelopeDecoder(schemas),
        contracts=Contracts({contract.subject: contract}),
        routes=build_routes(config),
        lanes=cast(dict[str, Lane], {"hooks": lane}),
        ledger=cast(LedgerWriter, None),
    )
    return OutboundRunner(parts, slice_s=0.0)


CONTACT_CHANGES = [
    golden(name) for name in ("00-contacts-create", "01-contacts-update", "02-contacts-delete")
]


def contact_batch(repeat: int) -> list[RawMessage]:
    return [
        RawMessage(r.topic, r.partition, offset, r.key, r.value)
        for offset, r in enumerate(CONTACT_CHANGES * repeat)
    ]


def test_a_batch_worked_through_in_slices_is_submitted_in_offset_order_while_others_run() -> None:
    lane, batch = RecordingLane(), contact_batch(20)
    ticks: list[int] = []

    async def handle() -> None:
        the_runner = runner(lane, FixtureSchemas())

        async def tick() -> None:
            while True:
                ticks.append(len(lane.offsets))
                await asyncio.sleep(0)

        ticking = asyncio.create_task(tick())
        await the_runner._handle(batch)
        ticking.cancel()

    asyncio.run(handle())
    assert lane.offsets == list(range(60))
    assert any(0 < submitted < 60 for submitted in ticks)  # the loop was free in between


def test_schemas_seen_for_the_first_time_are_fetched_off_the_event_loop() -> None:
    lane, schemas = RecordingLane(), ThreadNotingSchemas()

    async def handle() -> int:
        await runner(lane, schemas)._handle(contact_batch(1))
        return threading.get_ident()

    loop_thread = asyncio.run(handle())
    assert schemas.threads and loop_thread not in schemas.threads
    assert lane.offsets == [0, 1, 2]


def test_a_settled_process_leaves_start_up_objects_out_of_collections_and_hands_the_gil_over_sooner() -> None:
    interval = sys.getswitchinterval()
    try:
        settle_process()
        assert gc.get_freeze_count() > 10_000
        assert sys.getswitchinterval() == GIL_SWITCH_S
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
