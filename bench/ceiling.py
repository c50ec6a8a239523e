"""The ceiling: raw confluent-kafka consume + fastavro decode into ChangeEvents, nothing else."""

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import raw_message
from cdc_sync.settings import Settings


def consume_and_decode(settings: Settings, starts: list[TopicPartition], count: int) -> float:
    """Seconds to read and decode `count` records from `starts` (schemas already cached)."""
    decoder = EnvelopeDecoder(SchemaRegistry(settings.registry_url))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign(starts)
    decoded, started = 0, 0.0
    while decoded < count:
        batch = consumer.consume(1000, timeout=10)
        if not batch:
            raise SystemExit(f"bench: ceiling read only {decoded} of {count} records")
        started = started or time.perf_counter()
        decoded += sum(1 for message in batch if decoder.decode(raw_message(message)) is not None)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def ceiling(settings: Settings, starts: list[TopicPartition], count: int, runs: int = 5) -> dict[str, Any]:
    best = min(consume_and_decode(settings, starts, count) for _ in range(runs))
    return {
        "events": count,
        "seconds": round(best, 4),
        "events_per_s": round(count / best, 1),
        "best_of": runs,
    }
