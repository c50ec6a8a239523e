"""Consumer lag per assigned partition, from cached watermarks and the group's committed offsets."""

from dataclasses import dataclass, field

import pytest
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import REGISTRY

from cdc_sync.observability.consumer_lag import ConsumerLag, partition_lag

INVALID = -1001  # librdkafka's OFFSET_INVALID


@pytest.mark.parametrize(
    ("low", "high", "committed", "expected"),
    [
        (0, 120, 100, 20),
        (0, 120, 120, 0),
        (50, 120, INVALID, 70),  # never committed: the group starts at the low watermark
        (0, INVALID, 100, None),  # no fetch yet: unknown, not zero
        (0, 100, 130, 0),  # committed past a watermark that is a fetch behind
    ],
)
def test_partition_lag(low: int, high: int, committed: int, expected: int | None) -> None:
    assert partition_lag(low, high, committed) == expected


@dataclass
class FakeConsumer:
    """The consumer calls ConsumerLag makes, over fixed offsets."""

    watermarks: dict[tuple[str, int], tuple[int, int]]
    committed_at: dict[tuple[str, int], int]
    assigned: list[tuple[str, int]] = field(default_factory=list)
    failing: bool = False
    asked_broker: int = 0  # uncached watermark queries

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(topic, partition) for topic, partition in self.assigned]

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        if self.failing:
            raise KafkaException("coordinator not available")
        offsets = self.committed_at
        return [TopicPartition(p.topic, p.partition, offsets[p.topic, p.partition]) for p in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float, cached: bool) -> tuple[int, int]:
        self.asked_broker += not cached
        return self.watermarks[tp.topic, tp.partition]


def shown(topic: str, partition: int) -> float | None:
    labels = {"topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value("cdc_sync_consumer_lag_messages", labels)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lag_of_assigned_partitions_is_shown_and_revoked_ones_disappear() -> None:
    consumer = FakeConsumer(
        watermarks={("t.lag", 0): (0, 500), ("t.lag", 1): (0, 80), ("t.lag", 2): (0, INVALID)},
        committed_at={("t.lag", 0): 450, ("t.lag", 1): INVALID, ("t.lag", 2): 7},
        assigned=[("t.lag", 0), ("t.lag", 1), ("t.lag", 2)],
    )
    clock = Clock()
    lag = ConsumerLag(every_s=5.0, clock=clock)
    lag.maybe_refresh(consumer)
    assert (shown("t.lag", 0), shown("t.lag", 1), shown("t.lag", 2)) == (50, 80, None)

    consumer.assigned = [("t.lag", 1)]
    consumer.committed_at[("t.lag", 1)] = 60
    clock.now = 4.0
    lag.maybe_refresh(consumer)  # not due yet: nothing changes
    assert (shown("t.lag", 0), shown("t.lag", 1)) == (50, 80)
    clock.now = 5.0
    lag.maybe_refresh(consumer)
    assert (shown("t.lag", 0), shown("t.lag", 1)) == (None, 20)


def test_a_failed_measurement_keeps_the_last_values_and_retries_later() -> None:
    consumer = FakeConsumer({("t.fail", 0): (0, 10)}, {("t.fail", 0): 4}, [("t.fail", 0)])
    clock = Clock()
    lag = ConsumerLag(every_s=5.0, clock=clock)
    lag.maybe_refresh(consumer)
    consumer.failing, clock.now = True, 5.0
    lag.maybe_refresh(consumer)
    assert shown("t.fail", 0) == 6
    consumer.failing, consumer.committed_at[("t.fail", 0)], clock.now = False, 10, 10.0
    lag.maybe_refresh(consumer)
    assert shown("t.fail", 0) == 0


def test_while_paused_the_watermarks_come_from_the_broker_not_the_stale_cache() -> None:
    consumer = FakeConsumer(
        watermarks={("t.paused", 0): (0, 900)},
        committed_at={("t.paused", 0): 100},
        assigned=[("t.paused", 0)],
    )
    clock = Clock()
    lag = ConsumerLag(every_s=5.0, clock=clock)
    lag.maybe_refresh(consumer)
    assert consumer.asked_broker == 0  # fetching keeps the cache fresh: no extra request
    clock.now = 5.0
    lag.maybe_refresh(consumer, paused=True)
    assert consumer.asked_broker == 1 and shown("t.paused", 0) == 800
