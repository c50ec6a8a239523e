"""Resume replays a chunk of the held queue in order per entity, entities side by side, and
takes out of the queue only what was delivered, after its ledger rows are written."""

import asyncio
from typing import Any, cast

import pytest
from sqlalchemy import Engine

from cdc_sync.delivery.durable import ReplayHalted
from cdc_sync.delivery.sender import Lane
from cdc_sync.repair import destinations as resume_module
from cdc_sync.store import destinations as held_queue
from cdc_sync.store.ledger import LedgerWriter
from tests.unit.repair.test_dead_letters import delivery


class FakeLane:
    """Delivers after a short wait; halts on the entity named `halt_on`."""

    def __init__(self, halt_on: str | None = None) -> None:
        self.sent: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.halt_on = halt_on

    async def deliver(self, sent: Any) -> bool:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if sent.entity == self.halt_on:
            raise ReplayHalted(f"{sent.entity} still failing")
        self.sent.append(sent.idempotency_key)
        return True


class Ledger:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def flush(self) -> None:
        self.events.append("flush")


CHUNK = [
    (1, delivery("contact:1", "a1")),
    (2, delivery("contact:2", "b1")),
    (3, delivery("contact:1", "a2")),
    (4, delivery("contact:3", "c1")),
    (5, delivery("contact:1", "a3")),
]


def replay(lane: FakeLane, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int | Exception]:
    events: list[str] = []
    monkeypatch.setattr(held_queue, "release", lambda _, seqs: events.append(f"release {sorted(seqs)}"))
    chunk = resume_module._replay_chunk(
        cast(Engine, None), cast(Lane, lane), cast(LedgerWriter, Ledger(events)), CHUNK, lambda _: None
    )
    try:
        return events, asyncio.run(chunk)
    except ReplayHalted as exc:
        return events, exc


def test_entities_replay_side_by_side_each_in_queue_order(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = FakeLane()
    events, replayed = replay(lane, monkeypatch)
    assert replayed == 5 and lane.most_in_flight == 3
    assert [key for key in lane.sent if key.startswith("a")] == ["a1", "a2", "a3"]
    assert events == ["flush", "release [1, 2, 3, 4, 5]"]  # ledger first, then out of the queue


def test_a_halt_keeps_what_was_not_delivered_held(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = FakeLane(halt_on="contact:2")
    events, outcome = replay(lane, monkeypatch)
    assert isinstance(outcome, ReplayHalted)
    released = {int(seq) for seq in events[-1].removeprefix("release [").rstrip("]").split(", ") if seq}
    assert 2 not in released and released <= {1, 3, 4, 5}
    assert events[0] == "flush"
