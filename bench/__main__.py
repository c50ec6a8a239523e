"""`make bench`: throughput figures printed and written to bench/results/bench.json.

ceiling: raw confluent-kafka consume + fastavro decode into ChangeEvents, over a topic
pre-filled with copies of a real Debezium record taken from the running stack.
"""

import json
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import create_engine, text

from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import raw_message
from cdc_sync.settings import Settings

RESULTS = Path(__file__).parent / "results" / "bench.json"
CEILING_TOPIC = "bench.ceiling.contacts"
CEILING_EVENTS = 100_000


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def _sample_record(settings: Settings) -> RawMessage:
    """Make one contact update in the CRM and take its raw record off Kafka."""
    consumer = _consumer(settings)
    topic = "crm.public.contacts"
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign(
        [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p))[1])
            for p in partitions
        ]
    )
    with create_engine(settings.crm_admin_dsn.get_secret_value()).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (first_name, last_name, email, phone, country, locale, timezone, "
                "health_score) VALUES ('Bench', 'Mark', :e, '+4930123456', 'DE', 'de-DE', "
                "'Europe/Berlin', 55.5)"
            ),
            {"e": f"bench-{uuid.uuid4().hex[:8]}@example.com"},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for message in consumer.consume(10, timeout=1):
            if message.error() is None and message.value() is not None:
                consumer.close()
                return raw_message(message)
    raise SystemExit("bench: no contact change arrived from the stack within 60 s")


def _fill(settings: Settings, sample: RawMessage) -> None:
    consumer = _consumer(settings)
    metadata = consumer.list_topics(CEILING_TOPIC, timeout=10).topics.get(CEILING_TOPIC)
    present = sum(
        consumer.get_watermark_offsets(TopicPartition(CEILING_TOPIC, p))[1]
        for p in (metadata.partitions if metadata and not metadata.error else {})
    )
    consumer.close()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 50})
    for index in range(present, CEILING_EVENTS):
        producer.produce(CEILING_TOPIC, key=sample.key, value=sample.value)
        if index % 10_000 == 0:
            producer.flush()
    producer.flush()


def ceiling(settings: Settings) -> dict[str, Any]:
    _fill(settings, _sample_record(settings))
    decoder = EnvelopeDecoder(SchemaRegistry(settings.registry_url))
    consumer = _consumer(settings)
    consumer.subscribe([CEILING_TOPIC])
    decoded = 0
    started = None
    while decoded < CEILING_EVENTS:
        batch = consumer.consume(1000, timeout=10)
        if not batch:
            break
        started = started or time.perf_counter()
        decoded += sum(1 for m in batch if decoder.decode(raw_message(m)) is not None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return {"events": decoded, "seconds": round(elapsed, 3), "events_per_s": round(decoded / elapsed)}


def main() -> None:
    settings = Settings()
    results = {"ceiling_consume_decode": ceiling(settings)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for name, figures in results.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
