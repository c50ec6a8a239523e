"""`cdc-sync run` over a change source in memory: changes flow to the lanes, offsets are stored
only once what they produced is durable, poison is a letter and the stream goes on."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import cast

import pytest

from cdc_sync.delivery.sender import Done
from cdc_sync.model.delivery import Delivery
from cdc_sync.outbound import runner as runner_module
from cdc_sync.outbound.envelope import RawMessage
from cdc_sync.outbound.runner import OutboundRunner
from cdc_sync.store.dead_letters import DeadLetter
from cdc_sync.store.ledger import LedgerWriter
from tests.unit.outbound.test_envelope import FixtureSchemas
from tests.unit.outbound.test_loop_watch import CONTACT_CHANGES, FakeChangeSource, RecordingLane, runner
from tests.unit.outbound.test_poison import POISONS, record

PARTITION = (CONTACT_CHANGES[0].topic, CONTACT_CHANGES[0].partition)


class IdleSource(FakeChangeSource):
    """Waits out the poll's timeout (briefly) when it has nothing, as a consumer does."""

    def poll(self, max_records: int, timeout_s: float) -> list[RawMessage]:
        batch = super().poll(max_records, timeout_s)
        if not batch:
            time.sleep(0.005)
        return batch


class HoldingLane(RecordingLane):
    """A destination whose deliveries stay unacknowledged until the test lets one go."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, Done] = {}
        self.paused = False

    def submit(self, delivery: Delivery, done: Done) -> None:
        self.offsets.append(delivery.source.offset)
        self.held[delivery.source.offset] = done

    def durable(self, offset: int) -> None:
        self.held.pop(offset)()

    def close(self) -> None:
        pass

    async def drain(self) -> None:
        pass


class NoLedger:
    def flush(self) -> None:
        pass


@pytest.fixture(autouse=True)
def unsettled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "settle_process", lambda: None)  # process-wide: not in a unit test


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:  # a bound on the wait, not a speed check
            pytest.fail(f"condition not reached in {timeout_s}s")
        await asyncio.sleep(0.005)


def running(lane: HoldingLane, source: FakeChangeSource) -> OutboundRunner:
    parts = replace(runner(lane, FixtureSchemas(), source)._p, ledger=cast(LedgerWriter, NoLedger()))
    return OutboundRunner(parts, slice_s=0.0)


def test_changes_are_delivered_and_their_offsets_stored_only_once_all_before_them_are_durable(
    letters: list[DeadLetter],
) -> None:
    lane = HoldingLane()
    source = IdleSource([record(0), record(1, POISONS["bad magic byte"]), record(2), record(3)])

    async def run() -> list[dict[tuple[str, int], int]]:
        stop = asyncio.Event()
        task = asyncio.create_task(running(lane, source).run(stop))
        seen = []
        await until(lambda: lane.offsets == [0, 2, 3])
        seen.append(dict(source.stored))  # nothing durable yet: nothing stored
        lane.durable(2)
        await asyncio.sleep(0.05)
        seen.append(dict(source.stored))  # 0 still in flight: nothing past it may be stored
        lane.durable(0)
        await until(lambda: bool(source.stored))
        seen.append(dict(source.stored))  # 0, the letter 1 and 2 are done; 3 is not
        lane.durable(3)
        await until(lambda: source.stored.get(PARTITION) == 4)
        stop.set()
        await task
        return seen

    assert asyncio.run(run()) == [{}, {}, {PARTITION: 3}]
    assert lane.offsets == [0, 2, 3]  # the poison record between them stopped nothing
    (letter,) = letters
    assert letter.payload["offset"] == 1 and "undecodable record" in letter.reason


def test_a_stopped_runner_stores_what_became_durable_and_leaves_the_rest_to_be_read_again(
    letters: list[DeadLetter],
) -> None:
    lane = HoldingLane()
    source = IdleSource([record(5), record(6)])

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(running(lane, source).run(stop))
        await until(lambda: lane.offsets == [5, 6])
        lane.durable(5)
        stop.set()
        await task

    asyncio.run(run())
    assert source.stored == {PARTITION: 6} and letters == []
