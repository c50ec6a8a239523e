"""Consumer lag per assigned partition: the high watermark minus the group's committed offset.

Measured on the consumer thread (librdkafka calls from elsewhere would wait for the running
consume()), from the watermarks the fetches already brought (`cached=True`) and one request for
the committed offsets, at most every few seconds.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException

from cdc_sync.observability import metrics
from cdc_sync.observability.metrics import Labels

log = logging.getLogger(__name__)
EVERY_S = 5.0
COMMITTED_TIMEOUT_S = 2.0


def partition_lag(low: int, high: int, committed: int) -> int | None:
    """Messages not yet committed; None while the watermark is unknown (librdkafka's negative
    OFFSET_INVALID). Without a commit the group starts at the low watermark (auto.offset.reset)."""
    start = committed if committed >= 0 else low
    if high < 0 or start < 0:
        return None
    return max(high - start, 0)


class ConsumerLag:
    """Publishes CONSUMER_LAG for the consumer's assignment; partitions no longer read are dropped."""

    def __init__(self, every_s: float = EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._due = 0.0
        self._shown: set[Labels] = set()

    def maybe_refresh(self, consumer: Any, paused: bool = False) -> None:
        """Call on every poll, on the consumer thread; measures once every `every_s`.

        Paused partitions are not fetched, so their cached high watermark stops moving while the
        backlog grows: then the watermarks are asked of the broker instead."""
        now = self._clock()
        if now < self._due:
            return
        self._due = now + self._every_s
        try:
            readings = self._measure(consumer, cached=not paused)
        except KafkaException as exc:  # coordinator moving, broker away: the next round retries
            log.info("consumer lag not measured: %s", exc)
            return
        self._shown = metrics.publish(metrics.CONSUMER_LAG, readings, self._shown)

    def _measure(self, consumer: Any, cached: bool) -> dict[Labels, float]:
        assigned = consumer.assignment()
        committed = consumer.committed(assigned, timeout=COMMITTED_TIMEOUT_S) if assigned else []
        readings: dict[Labels, float] = {}
        for tp in committed:
            watermarks = consumer.get_watermark_offsets(tp, timeout=COMMITTED_TIMEOUT_S, cached=cached)
            if tp.error is not None or watermarks is None:
                continue
            lag = partition_lag(watermarks[0], watermarks[1], tp.offset)
            if lag is not None:
                readings[(tp.topic, str(tp.partition))] = lag
        return readings
