"""A backlog drained: N changes (default 1,000,000) in the mix, all in Kafka before `cdc-sync run`
starts, then delivered to the sandboxes; the rate, cdc-sync's peak RSS (VmHWM) and the CPU of
every process. Written in transactions of 50,000 changes so Debezium keeps up.
"""

from typing import Any

from bench.drain import cdc_sync_run
from bench.load import write_all
from bench.pipeline import close_window, delivered, prepare
from bench.rig import Rig

CHUNK = 50_000


def backlog(rig: Rig, count: int) -> dict[str, Any]:
    phase = prepare(rig, "backlog", count)
    print(f"backlog: writing {count:,} changes", flush=True)
    write_seconds = write_all(rig.crm, phase.load, count, CHUNK, progress=True)
    print(f"backlog: written in {write_seconds:.0f}s; waiting for Debezium", flush=True)
    close_window(rig, phase, progress=True)
    print(f"backlog: {phase.window.records:,} records in Kafka; draining with cdc-sync run", flush=True)
    with cdc_sync_run(rig, phase.group) as sync:
        waited = sync.wait_acked(phase.ledger, phase.load.expected_acks(), progress=True)
        figures = delivered(rig, phase, sync, waited)
    return {"write_seconds": round(write_seconds, 1), **figures}
