"""Full-pipeline throughput and end-to-end latency of `cdc-sync run`, against the no-fault sandboxes.

throughput: N changes in the mix are written to the CRM and are all in Kafka before
`cdc-sync run` starts with a fresh group at the offsets before them; the rate runs from the
first to the last vendor ack and counts CRM row changes, each checked to have taken effect at
its vendors exactly once.
latency: the mix at a steady rate while `cdc-sync run` is live; per ack, PostgreSQL commit →
vendor ack from the ledger, and Kafka record timestamp → ack (the part cdc-sync adds).
"""

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.acks import Acks, Ledger, verdict
from bench.drain import RunningSync, Waited, ack_seconds, cdc_sync_run
from bench.figures import percentiles
from bench.load import MixedLoad, SteadyWrites, write_all, write_steadily
from bench.processes import OVERRIDES, reset_sandboxes, tombstones_on_delete
from bench.rig import Rig
from bench.window import Window, commit_group, end_offsets, kafka_timestamps, wait_produced

CHUNK = 5000  # changes per transaction when pre-producing
TOMBSTONES = tombstones_on_delete()
TICK_S = float(os.environ.get("BENCH_TICK_MS", "20")) / 1000


@dataclass
class Prepared:
    """A phase's starting point: sandboxes reset, contacts seeded, the window open, a group at it."""

    load: MixedLoad
    window: Window
    ledger: Ledger
    group: str


def prepare(rig: Rig, name: str, changes: int) -> Prepared:
    reset_sandboxes()
    before = end_offsets(rig.settings.kafka_bootstrap, rig.topics)
    load = MixedLoad.seeded(rig.crm, changes)
    starts = wait_produced(rig.settings.kafka_bootstrap, rig.topics, before, load.seed_records)
    window = Window(starts)
    group = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    commit_group(rig.settings.kafka_bootstrap, group, window, rig.topics)
    return Prepared(load, window, Ledger(rig.state, rig.destinations, window), group)


def close_window(rig: Rig, phase: Prepared, progress: bool = False) -> None:
    """Waits until Debezium has produced every change written so far; the ledger counts that window."""
    ends = wait_produced(
        rig.settings.kafka_bootstrap,
        rig.topics,
        phase.window.starts,
        phase.load.kafka_records(TOMBSTONES),
        progress,
    )
    phase.window = phase.window.closed(ends)
    phase.ledger.window = phase.window


def delivered(rig: Rig, phase: Prepared, sync: RunningSync, waited: Waited) -> dict[str, Any]:
    """The figures every drained phase reports: rate, per-destination verdicts, CPU, memory."""
    changes, seconds = phase.load.changes, ack_seconds(waited.acks)
    expected = phase.load.expected_acks()
    destinations = {
        name: verdict(phase.ledger, name, waited.acks[name], expected.get(name, 0), rig.base_url(name))
        for name in rig.destinations
    }
    figures = {
        "changes": changes,
        "mix": phase.load.mix(),
        "kafka_records": phase.window.records,
        "seconds": round(seconds, 3),
        "changes_per_s": round(changes / seconds, 1) if seconds > 0 else None,
        "deliveries_per_s": round(_acked(waited.acks) / seconds, 1) if seconds > 0 else None,
        "complete": waited.complete,
        "exactly_once": waited.complete and all(d["exactly_once"] for d in destinations.values()),
        "destinations": destinations,
        "failed_attempts": phase.ledger.failed_attempts(),
        "dead_letters": phase.ledger.dead_letters(),
        "config_overrides": OVERRIDES,
        **sync.figures(waited, changes),
    }
    if not waited.complete:
        figures["incomplete"] = waited.reason
    return figures


def _acked(acks: dict[str, Acks]) -> int:
    return sum(a.acked_keys for a in acks.values())


def throughput(rig: Rig, count: int) -> tuple[dict[str, Any], Window]:
    """The rate over `count` pre-produced changes, and the window they occupy (for the ceilings)."""
    phase = prepare(rig, "pipeline", count)
    write_all(rig.crm, phase.load, count, CHUNK)
    close_window(rig, phase)
    with cdc_sync_run(rig, phase.group) as sync:
        waited = sync.wait_acked(phase.ledger, phase.load.expected_acks())
        figures = delivered(rig, phase, sync, waited)
    return figures, phase.window


def latency(
    rig: Rig, per_minute: int, seconds: float, on_start: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """The mix at `per_minute` for `seconds` while cdc-sync runs; percentiles over every ack.
    `on_start` runs as the measured window opens (after the sandboxes' reset and the probe)."""
    print(f"latency: {per_minute:,} changes/min for {seconds:.0f}s", flush=True)
    phase = prepare(rig, f"latency-{per_minute}", int(per_minute * seconds / 60))
    with cdc_sync_run(rig, phase.group) as sync:
        _probe(rig, phase, sync)
        phase.window, phase.ledger = _reopen(rig, phase)
        before = sync.meter.sample()
        on_start()
        writes = write_steadily(rig.crm, phase.load, per_minute / 60, seconds, TICK_S)
        close_window(rig, phase)
        waited = sync.wait_acked(phase.ledger, phase.load.expected_acks(), before=before)
        figures = delivered(rig, phase, sync, waited)
    stamps = kafka_timestamps(rig.settings.kafka_bootstrap, phase.window)
    return {**_writes(writes), **_latencies(phase.ledger, stamps), **figures}


def _probe(rig: Rig, phase: Prepared, sync: RunningSync) -> None:
    """One change acknowledged end to end: the group has joined and every connection is warm."""
    with rig.crm.begin() as conn:
        phase.load.write(conn, 1)
    close_window(rig, phase)
    waited = sync.wait_acked(phase.ledger, phase.load.expected_acks())
    if not waited.complete:
        raise SystemExit(f"bench: the probe change was not delivered ({waited.reason})")


def _reopen(rig: Rig, phase: Prepared) -> tuple[Window, Ledger]:
    """A window (and ledger scope) that starts after the probe; the load forgets what it wrote."""
    phase.load.written.clear()
    window = Window(phase.window.ends)
    return window, Ledger(rig.state, rig.destinations, window)


def _writes(writes: SteadyWrites) -> dict[str, Any]:
    return {
        "target_changes_per_s": round(writes.target_per_s, 1),
        "achieved_changes_per_s": round(writes.achieved_per_s, 1),
        "rate_achieved": writes.achieved_per_s >= 0.97 * writes.target_per_s,
        "write_seconds": round(writes.seconds, 1),
        "write_transactions": writes.transactions,
        "slowest_write_tick_ms": writes.slowest_tick_ms,
    }


def _latencies(ledger: Ledger, stamps: dict[tuple[str, int, int], float]) -> dict[str, Any]:
    rows = ledger.latency_rows()
    added = [
        float(r.at_ms) - stamps[(r.topic, r.kafka_partition, r.kafka_offset)]
        for r in rows
        if (r.topic, r.kafka_partition, r.kafka_offset) in stamps
    ]
    return {
        "vendor_acks": len(rows),
        "end_to_end_ms": percentiles([float(r.end_to_end_ms) for r in rows]),
        "added_by_cdc_sync_ms": percentiles(added),
    }
