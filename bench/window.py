"""Where a phase's changes sit in Kafka: per partition, the offsets before the first and after the last."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message, TopicPartition

Partition = tuple[str, int]
PRODUCE_STALL_S = 120.0


def end_offsets(bootstrap: str, topics: list[str]) -> dict[Partition, int]:
    """High watermarks of the topics' partitions; a topic Debezium has not created yet has none."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})
    try:
        metadata = consumer.list_topics(timeout=10).topics
        return {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for topic in topics
            if topic in metadata
            for p in metadata[topic].partitions
        }
    finally:
        consumer.close()


def records(offsets: dict[Partition, int]) -> int:
    return sum(offsets.values())


def wait_produced(
    bootstrap: str, topics: list[str], before: dict[Partition, int], count: int, progress: bool = False
) -> dict[Partition, int]:
    """Waits until Debezium has put `count` more records in the topics; returns the new ends."""
    moved = last_print = time.monotonic()
    produced = -1
    while True:
        now = end_offsets(bootstrap, topics)
        produced, previous = records(now) - records(before), produced
        if produced >= count:
            return now
        if produced > previous:
            moved = time.monotonic()
        elif time.monotonic() - moved > PRODUCE_STALL_S:
            raise SystemExit(
                f"bench: Debezium stopped at {produced} of {count} records ({PRODUCE_STALL_S:.0f}s idle)"
            )
        if progress and time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            print(f"  debezium: {produced:,} / {count:,} records in Kafka", flush=True)
        time.sleep(0.5)


@dataclass(frozen=True)
class Window:
    starts: dict[Partition, int]
    ends: dict[Partition, int] = field(default_factory=dict)

    def closed(self, ends: dict[Partition, int]) -> "Window":
        return Window(self.starts, ends)

    @property
    def records(self) -> int:
        return sum(end - self.starts.get(p, 0) for p, end in self.ends.items())

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p, self.starts.get((t, p), 0)) for (t, p) in self.ends]

    def inside(self, topic: str, partition: int, offset: int) -> bool:
        return self.starts.get((topic, partition), 0) <= offset < self.ends.get((topic, partition), 0)


def commit_group(bootstrap: str, group: str, window: Window, topics: list[str]) -> None:
    """A consumer group that starts at the window (partitions created later start at 0 anyway)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    offsets = [TopicPartition(t, p, offset) for (t, p), offset in window.starts.items() if t in topics]
    if offsets:
        consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()


def read_window(bootstrap: str, window: Window, batch: int, each: Callable[[list[Message]], None]) -> None:
    """Hands every record inside the window to `each`, a consumed batch at a time."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign([tp for tp in window.assignment() if tp.offset < window.ends[(tp.topic, tp.partition)]])
    remaining = window.records
    try:
        while remaining > 0:
            # consume(n) waits out its timeout for a short last batch: never ask for more than is left.
            messages = consumer.consume(min(batch, remaining), timeout=10)
            if not messages:
                raise SystemExit(f"bench: {remaining} records of the window could not be read")
            kept = [m for m in messages if m.error() is None and window.inside(*_position(m))]
            remaining -= len(kept)
            each(kept)
    finally:
        consumer.close()


def _position(message: Message) -> tuple[str, int, int]:
    return message.topic() or "", message.partition() or 0, message.offset() or 0


def kafka_timestamps(bootstrap: str, window: Window) -> dict[tuple[str, int, int], float]:
    """(topic, partition, offset) → the record's timestamp in ms (when Debezium produced it)."""
    stamps: dict[tuple[str, int, int], float] = {}

    def keep(messages: list[Message]) -> None:
        for message in messages:
            stamps[_position(message)] = float(message.timestamp()[1])

    read_window(bootstrap, window, 1000, keep)
    return stamps
