"""Full-pipeline throughput and end-to-end latency, measured against the no-fault sandboxes.

throughput: N contacts are written to the CRM first; a fresh consumer group then reads them
from the offsets before the writes, and the clock runs from the first to the last vendor ack.
latency: contacts are written at a steady rate while `cdc-sync run` is live; per change the
ledger's ack time is compared with the PostgreSQL commit time and with the Kafka record's
timestamp (when Debezium produced it), which gives the part cdc-sync adds.
"""

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import Engine, text

from bench.figures import percentiles
from bench.processes import CLI, bench_config, commit_group, end_offsets, running
from cdc_sync.settings import Settings

TOPIC = "crm.public.contacts"


def insert_contacts(crm: Engine, count: int, tag: str) -> None:
    with crm.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (first_name, last_name, email, phone, country, locale, timezone) "
                "SELECT 'Bench', 'Mark ' || g, :tag || '-' || g || '@example.com', '+4930123456', 'DE', "
                "'de-DE', 'Europe/Berlin' FROM generate_series(1, :n) g"
            ),
            {"tag": tag, "n": count},
        )


def acks(state: Engine, since: datetime, destinations: int, count: int, timeout_s: float) -> list[Any]:
    """Wait for `count` changes acknowledged by every destination; returns their ledger rows."""
    query = text(
        "SELECT kafka_partition, kafka_offset, commit_ts, at FROM cdc_sync.deliveries "
        "WHERE outcome = 'ok' AND at >= :since AND table_name = 'public.contacts' "
        "AND operation <> 'member.tags.phone'"
    )
    deadline = time.monotonic() + timeout_s
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with state.connect() as conn:
            rows = list(conn.execute(query, {"since": since}).all())
        if len(rows) >= count * destinations:
            return rows
        time.sleep(0.5)
    raise SystemExit(f"bench: only {len(rows)} of {count * destinations} acks after {timeout_s:.0f}s")


def throughput(
    settings: Settings, crm: Engine, state: Engine, tmp: Path, count: int
) -> tuple[dict[str, Any], list[TopicPartition]]:
    """Pipeline rate over `count` pre-produced changes; also returns where they start in Kafka."""
    group = f"bench-pipeline-{uuid.uuid4().hex[:6]}"
    starts = end_offsets(settings.kafka_bootstrap, TOPIC)
    commit_group(settings.kafka_bootstrap, group, starts)
    since = datetime.now().astimezone()
    insert_contacts(crm, count, f"tp-{uuid.uuid4().hex[:6]}")
    _wait_produced(settings, count)
    config = bench_config(tmp / "bench-throughput.toml", group)
    with running([CLI, "--config", str(config), "run"], tmp / "bench-run.log"):
        rows = acks(state, since, 2, count, timeout_s=600)
    first_ack, last_ack = min(r.at for r in rows), max(r.at for r in rows)
    seconds = (last_ack - first_ack).total_seconds()
    figures = {
        "events": count,
        "vendor_requests": len(rows),
        "seconds": round(seconds, 3),
        "events_per_s": round(count / seconds, 1),
    }
    return figures, starts


def _wait_produced(settings: Settings, count: int) -> None:
    """Debezium has the rows in Kafka before the clock starts (it measures cdc-sync, not capture)."""
    before = sum(tp.offset for tp in end_offsets(settings.kafka_bootstrap, TOPIC))
    deadline = time.monotonic() + 120
    while sum(tp.offset for tp in end_offsets(settings.kafka_bootstrap, TOPIC)) < before + count:
        if time.monotonic() > deadline:
            raise SystemExit("bench: Debezium did not produce the changes in 120 s")
        time.sleep(0.5)


def latency(
    settings: Settings, crm: Engine, state: Engine, tmp: Path, per_minute: int, seconds: int
) -> dict[str, Any]:
    group = f"bench-latency-{uuid.uuid4().hex[:6]}"
    starts = end_offsets(settings.kafka_bootstrap, TOPIC)
    commit_group(settings.kafka_bootstrap, group, starts)
    config = bench_config(tmp / "bench-latency.toml", group)
    since = datetime.now().astimezone()
    with running([CLI, "--config", str(config), "run"], tmp / "bench-latency-run.log"):
        time.sleep(5)  # group joined, partitions assigned
        written = _steady_writes(crm, per_minute, seconds)
        rows = acks(state, since, 2, written, timeout_s=300)
    produced = _kafka_timestamps(settings, starts)
    end_to_end = [(r.at - r.commit_ts).total_seconds() * 1000 for r in rows]
    added = [
        (r.at.timestamp() * 1000 - produced[(r.kafka_partition, r.kafka_offset)])
        for r in rows
        if (r.kafka_partition, r.kafka_offset) in produced
    ]
    return {
        "changes_per_minute": per_minute,
        "changes": written,
        "vendor_acks": len(rows),
        "end_to_end_ms": percentiles(end_to_end),
        "added_by_cdc_sync_ms": percentiles(added),
    }


def _steady_writes(crm: Engine, per_minute: int, seconds: int) -> int:
    interval = 60.0 / per_minute
    tag = f"lat-{uuid.uuid4().hex[:6]}"
    start = time.monotonic()
    written = 0
    while time.monotonic() - start < seconds:
        with crm.begin() as conn:
            conn.execute(
                text("INSERT INTO contacts (first_name, email, country) VALUES ('Lat', :e, 'DE')"),
                {"e": f"{tag}-{written}@example.com"},
            )
        written += 1
        time.sleep(max(0.0, start + written * interval - time.monotonic()))
    return written


def _kafka_timestamps(settings: Settings, starts: list[TopicPartition]) -> dict[tuple[int, int], float]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-ts", "enable.auto.commit": False}
    )
    consumer.assign(starts)
    stamps: dict[tuple[int, int], float] = {}
    while batch := consumer.consume(1000, timeout=3):
        for message in batch:
            if message.error() is None:
                stamps[(message.partition() or 0, message.offset() or 0)] = float(message.timestamp()[1])
    consumer.close()
    return stamps
