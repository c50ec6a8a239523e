"""A 100k-record backfill beside live traffic: the end-to-end p99 of live outbound deliveries
(the mix at 10,000 changes/min, as the latency phase) with nothing else running, then again while
`cdc-sync backfill helpdesk` reads 100,000 tickets from the helpdesk sandbox's incremental export
and a writer merges them into CRM cases; the ratio of the two p99s (target ≤ 2), how long reading
and merging took, and the CPU of every process over the backfill.

The reading pace is `BENCH_BACKFILL_PER_MINUTE` pages of 1,000 a minute (default 60), far above
Zendesk's 10 export requests a minute, so the merge is the load it would be at the real limit
only ~7 times faster: a harsher test than production.
"""

import os
import resource
import subprocess
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.cpu import cpu_figures
from bench.pipeline import latency
from bench.processes import CLI, running, wait_http
from bench.rig import Rig

RECORDS = int(os.environ.get("BENCH_BACKFILL_RECORDS", "100000"))
PER_MINUTE = float(os.environ.get("BENCH_BACKFILL_PER_MINUTE", "60"))
LIVE_PER_MINUTE = 10_000
WRITER_METRICS_PORT = 9130
SEED_CHUNK = 20_000
HELPDESK_SANDBOX = "http://127.0.0.1:9102"


def seed_tickets(count: int, first_id: int, since: datetime) -> None:
    """`count` tickets changed over the year after `since` (a mix of statuses and priorities)."""
    statuses, priorities = ("open", "pending", "hold", "solved", "closed"), ("low", "normal", "high")
    step = timedelta(days=365) / count
    for start in range(0, count, SEED_CHUNK):
        tickets = [
            {
                "id": first_id + i,
                "subject": f"Backfilled ticket {i}",
                "status": statuses[i % len(statuses)],
                "priority": priorities[i % len(priorities)],
                "created_at": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "updated_at": (since + step * i).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for i in range(start, min(start + SEED_CHUNK, count))
        ]
        response = httpx.post(f"{HELPDESK_SANDBOX}/_sandbox/tickets", json={"tickets": tickets}, timeout=120)
        response.raise_for_status()


def _merged(state: Engine, since: datetime) -> dict[str, int]:
    query = text(
        "SELECT status, count(*) FROM cdc_sync.inbox WHERE source = 'helpdesk' AND event_id LIKE 'export:%' "
        "AND received_at >= :since GROUP BY status"
    )
    with state.connect() as conn:
        return {str(status): int(n) for status, n in conn.execute(query, {"since": since})}


def _p99(figures: dict[str, Any]) -> float | None:
    value = (figures.get("end_to_end_ms") or {}).get("p99")
    return None if value is None else float(value)


def backfill(rig: Rig, seconds: float, baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """Live p99 alone (or the latency phase's at 10,000/min, when given), then beside the backfill:
    the tickets are seeded and the backfill started as the live window opens (after the latency
    run's sandbox reset), and the figures wait until every backfilled ticket is merged."""
    alone = baseline or latency(rig, LIVE_PER_MINUTE, seconds)
    first_id = 10**11 + int(time.time()) % 10**6 * 10**5
    args = [
        CLI,
        "backfill",
        "helpdesk",
        "--since",
        "2025-01-01",
        "--per-minute",
        str(PER_MINUTE),
        "--restart",
    ]
    writer_args = [CLI, "writer", "--metrics-port", str(WRITER_METRICS_PORT)]
    began = datetime.now(UTC)
    with ExitStack() as processes:
        writer = processes.enter_context(running(writer_args, rig.tmp / "writer-backfill.log"))
        wait_http(f"http://127.0.0.1:{WRITER_METRICS_PORT}/metrics")
        meter = rig.meter(cdc_sync_writer=writer.pid)
        readers: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            nonlocal began
            print(f"backfill: seeding {RECORDS:,} tickets; reading at {PER_MINUTE:g} pages/min", flush=True)
            seed_tickets(RECORDS, first_id, datetime(2025, 1, 1, tzinfo=UTC))
            began = datetime.now(UTC)
            readers.append(processes.enter_context(running(args, rig.tmp / "backfill.log")))

        before = meter.sample()
        beside = latency(rig, LIVE_PER_MINUTE, seconds, on_start=start)
        read_s, reader_cpu_s = _wait_read(readers[0], began)
        merge_s = _wait_merged(rig.state, began)
        cpu = cpu_figures(before, meter.sample(), RECORDS)
    p99_alone, p99_beside = _p99(alone), _p99(beside)
    ratio = round(p99_beside / p99_alone, 2) if p99_alone and p99_beside else None
    return {
        "records": RECORDS,
        "mix": "helpdesk tickets (open/pending/hold/solved/closed by low/normal/high), each a new CRM case",
        "pages_per_minute": PER_MINUTE,
        "read_seconds": read_s,
        "merged_seconds": merge_s,
        "merged_per_s": round(RECORDS / merge_s, 1) if merge_s else None,
        "inbox": _merged(rig.state, began),
        "live_p99_ms_alone": p99_alone,
        "live_p99_ms_beside_backfill": p99_beside,
        "live_p99_ratio": ratio,
        "target_met": ratio is not None and ratio <= 2,
        "live_beside_backfill": beside,
        "cpu": cpu,
        "cpu_s_backfill_command": reader_cpu_s,
    }


def _wait_read(reader: "subprocess.Popen[bytes]", began: datetime) -> tuple[float, float]:
    """(seconds from the start until it finished, its CPU seconds): an exited process is gone from
    /proc, so its CPU is what waiting for it adds to this process's children (nothing else is
    waited for meanwhile: the live load's `cdc-sync run` was stopped before)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = reader.wait(timeout=3600)
    if code != 0:
        raise SystemExit(f"bench: cdc-sync backfill exited {code}")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    return round((datetime.now(UTC) - began).total_seconds(), 1), round(cpu_s, 2)


def _wait_merged(state: Engine, began: datetime, timeout_s: float = 3600) -> float:
    deadline = time.monotonic() + timeout_s
    while (left := _merged(state, began).get("pending", 0)) > 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {left:,} backfilled events not merged after {timeout_s:.0f}s")
        print(f"backfill: {left:,} events to merge", flush=True)
        time.sleep(5)
    return round((datetime.now(UTC) - began).total_seconds(), 1)
