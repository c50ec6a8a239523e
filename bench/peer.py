"""`make bench-peer`: cdc-sync's webhook destination beside Debezium Server's HTTP sink.

Both deliver the same CRM changes (public.contacts) to one local receiver
(bench.peer_receiver, its own process; a path per side). Debezium Server reads the WAL over its
own slot and publication (ops/peer/); cdc-sync reads what Debezium-in-Connect produced to Kafka.

throughput: W warm-up contacts, then N, are inserted (one transaction each) while neither side
runs; the slot and a fresh consumer group at the pre-insert offsets keep them. Then each side
alone drains the backlog; only the N rows are measured (the W warm the JIT and the caches).
Rate = distinct rows / (last - first receive). CPU per 1000 changes is each process's
utime+stime over that window; cdc-sync's path also counts Connect, Kafka and Connect's
walsender while they captured the W + N rows, Debezium Server's its own walsender.
latency: both run live while contacts are inserted one per transaction at a steady rate; per
row, receive time - PostgreSQL commit time (Debezium's `source.ts_us`, which both carry).
Writes bench/results/peer.json and prints a table.
"""

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import Engine, create_engine, text

from bench.figures import percentiles
from bench.peer_debezium import SLOT, debezium_server, install, replication_engine, slot_and_publication
from bench.peer_debezium import walsender_pid as slot_walsender
from bench.peer_kafka import group_at_end, produced
from bench.peer_receiver import Record
from bench.peer_report import DEBEZIUM_SERVER, busy, path_totals, problems, ratio, table
from bench.peer_watch import STATE, Receiver, Watch, cpu_of, cpu_seconds, stack_pid, wait_for, watch
from bench.processes import CLI, ROOT, running, wait_http
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate

RESULTS = Path(__file__).parent / "results" / "peer.json"
WORKDIR = STATE / "bench-peer"
TOPIC = "crm.public.contacts"
CONNECT_SLOT = "cdc_sync_crm"
CHANGES = int(os.environ.get("PEER_CHANGES", "20000"))
WARMUP = int(os.environ.get("PEER_WARMUP_CHANGES", "10000"))
PER_MINUTE = int(os.environ.get("PEER_CHANGES_PER_MINUTE", "10000"))
LATENCY_SECONDS = int(os.environ.get("PEER_LATENCY_SECONDS", "30"))
TIMEOUT_S = float(os.environ.get("PEER_TIMEOUT_S", "300"))
RECEIVER_PORT = int(os.environ.get("PEER_RECEIVER_PORT", "9170"))
DEBEZIUM_HTTP_PORT = int(os.environ.get("PEER_DEBEZIUM_HTTP_PORT", "9171"))
IDLE_SECONDS = 5.0
METRICS_PORT = int(os.environ.get("PEER_METRICS_PORT", "9138"))
SECRET_ENV = "CDC_SYNC_PEER_WEBHOOK_SECRET"
RECEIVER_CPU = "receiver"  # shared by both sides: shown, never in a side's totals
RECEIVER = f"http://127.0.0.1:{RECEIVER_PORT}"


class Bench:
    """The stack handles every phase needs."""

    def __init__(self, settings: Settings, tmp: Path, receiver_pid: int) -> None:
        self.settings, self.tmp, self.receiver_pid = settings, tmp, receiver_pid
        self.crm = create_engine(settings.crm_admin_dsn.get_secret_value())
        self.replication = replication_engine(settings.crm_admin_dsn.get_secret_value())
        self.debezium = Receiver(RECEIVER, "debezium")
        self.cdc_sync = Receiver(RECEIVER, "cdc-sync")
        self.kafka = stack_pid("kafka", "kafka.Kafka")
        self.connect = stack_pid("connect", "ConnectDistributed")

    def walsender(self, slot: str) -> dict[str, int]:
        pid = slot_walsender(self.replication, slot)
        return {} if pid is None else {f"walsender {slot}": pid}

    def cdc_sync_run(self, name: str, group: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
        config = webhook_config(self.tmp / f"cdc-sync-{name}.toml", group)
        return running([CLI, "--config", str(config), "run"], self.tmp / f"cdc-sync-{name}.log")


def webhook_config(path: Path, group: str) -> Path:
    """The repo config with one destination: the signed webhook to the receiver, unthrottled."""
    config: dict[str, Any] = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["consumer"].update(group_id=group, metrics_port=METRICS_PORT)
    config["notifications"]["url_env"] = "CDC_SYNC_PEER_NOTIFICATIONS_URL"  # unset: no notifications
    config["destinations"] = {
        "peer": {
            "kind": "webhook",
            "system": "erp",
            "base_url": RECEIVER,
            "path": "/cdc-sync",
            "credential_env": SECRET_ENV,
            "tables": ["public.contacts"],
            "rate_limit_per_s": 100_000,
            "max_concurrency": 64,
            "batch_max": 200,  # as Debezium Server's HTTP sink batches (batch.max-size=200)
        }
    }
    path.write_text(tomli_w.dumps(config))
    return path


def insert_contacts(crm: Engine, count: int) -> set[int]:
    tag = f"peer-{uuid.uuid4().hex[:6]}"
    with crm.begin() as conn:
        rows = conn.execute(
            text(
                "INSERT INTO contacts (first_name, last_name, email, phone, country, locale, timezone) "
                "SELECT 'Peer', 'Bench ' || g, :tag || '-' || g || '@example.com', '+4930123456', 'DE', "
                "'de-DE', 'Europe/Berlin' FROM generate_series(1, :n) g RETURNING id"
            ),
            {"tag": tag, "n": count},
        )
        return {int(row) for row in rows.scalars()}


def capture(bench: Bench) -> tuple[set[int], dict[str, Any]]:
    """Insert the warm-up and the measured rows; wait until Connect has them in Kafka, with the
    CPU that took. Returns the measured rows' ids."""
    bootstrap, total = bench.settings.kafka_bootstrap, WARMUP + CHANGES
    before = produced(bootstrap, TOPIC)
    pids = {"connect": bench.connect, "kafka": bench.kafka, **bench.walsender(CONNECT_SLOT)}
    cpu_before, started = cpu_of(pids), time.monotonic()
    if WARMUP:
        insert_contacts(bench.crm, WARMUP)
    ids = insert_contacts(bench.crm, CHANGES)
    while produced(bootstrap, TOPIC) < before + total:
        if time.monotonic() - started > TIMEOUT_S:
            raise SystemExit(f"bench-peer: Connect did not produce {total} changes in {TIMEOUT_S:.0f}s")
        time.sleep(0.2)
    cpu_after, seconds = cpu_of(pids), time.monotonic() - started
    cpu = {name: round((cpu_after[name] - cpu_before[name]) / total * 1000, 4) for name in pids}
    return ids, {"changes": total, "insert_to_kafka_s": round(seconds, 2), "cpu_s_per_1000": cpu}


def first_receipts(records: list[Record]) -> dict[int, Record]:
    first: dict[int, Record] = {}
    for record in records:
        if record[0] not in first or record[2] < first[record[0]][2]:
            first[record[0]] = record
    return first


def delivered(result: Watch, expected: int) -> dict[str, Any]:
    first = first_receipts(result.records)
    return {
        "expected": expected,
        "received": len(first),
        "complete": result.complete,
        "duplicates": len(result.records) - len(first),
    }


def throughput_figures(result: Watch, expected: int) -> dict[str, Any]:
    received = sorted(record[2] for record in first_receipts(result.records).values())
    seconds = (received[-1] - received[0]) / 1e6 if len(received) > 1 else 0.0
    changes = max(result.changes_in_cpu_window, 1)
    cpu = {name: round(spent / changes * 1000, 4) for name, spent in result.cpu.items()}
    return delivered(result, expected) | {
        "seconds": round(seconds, 3),
        "changes_per_s": round(len(received) / seconds, 1) if seconds else None,
        "changes_per_request": round(changes / result.requests, 1) if result.requests else None,
        "cpu_s_per_1000": {name: spent for name, spent in cpu.items() if name != RECEIVER_CPU},
        "receiver_cpu_s_per_1000": cpu.get(RECEIVER_CPU),
    }


def cdc_sync_throughput(bench: Bench, ids: set[int], group: str) -> dict[str, Any]:
    with bench.cdc_sync_run("throughput", group) as process:
        pids = {"cdc-sync": process.pid, "kafka": bench.kafka, RECEIVER_CPU: bench.receiver_pid}
        result = watch(bench.cdc_sync, ids, pids, TIMEOUT_S, skip=WARMUP)
    return throughput_figures(result, len(ids))


def debezium_throughput(bench: Bench, ids: set[int], server: int) -> dict[str, Any]:
    pids = {"debezium-server": server, RECEIVER_CPU: bench.receiver_pid}
    result = watch(bench.debezium, ids, pids, TIMEOUT_S, skip=WARMUP)
    figures = throughput_figures(result, len(ids))
    # The walsender is new with the server's connection: all its CPU is this backlog's decoding.
    for name, pid in bench.walsender(SLOT).items():
        figures["cpu_s_per_1000"][name] = round(cpu_seconds(pid) / (WARMUP + CHANGES) * 1000, 4)
    return figures


def steady_writes(crm: Engine, per_minute: int, seconds: int) -> set[int]:
    """One contact per transaction at `per_minute`, for `seconds`; their ids."""
    interval, tag, ids = 60.0 / per_minute, f"peer-lat-{uuid.uuid4().hex[:6]}", set[int]()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        with crm.begin() as conn:
            row = conn.execute(
                text(
                    "INSERT INTO contacts (first_name, email, country) VALUES ('Lat', :e, 'DE') RETURNING id"
                ),
                {"e": f"{tag}-{len(ids)}@example.com"},
            ).scalar_one()
        ids.add(int(row))
        time.sleep(max(0.0, start + len(ids) * interval - time.monotonic()))
    return ids


def warm_up(bench: Bench, timeout_s: float = 120) -> list[str]:
    """Both sides live and caught up: each has received one fresh row. Returns the sides that
    did not in `timeout_s` (their latency then includes their start)."""
    ids = insert_contacts(bench.crm, 1)
    deadline = time.monotonic() + timeout_s
    return [r.side for r in (bench.debezium, bench.cdc_sync) if not wait_for(r, ids, 0, deadline).complete]


OWN_PROCESSES = {
    "debezium": ("debezium-server", f"walsender {SLOT}"),
    "cdc-sync": ("cdc-sync", "connect", "kafka", f"walsender {CONNECT_SLOT}"),
}


def latency_figures(result: Watch, expected: int, cpu: dict[str, float], side: str) -> dict[str, Any]:
    first = first_receipts(result.records).values()
    own = {name: seconds for name, seconds in cpu.items() if name in OWN_PROCESSES[side]}
    return delivered(result, expected) | {
        "commit_to_receive_ms": percentiles([(received - commit) / 1000 for _, commit, received in first]),
        "cpu_s_per_1000": {name: round(seconds / expected * 1000, 4) for name, seconds in own.items()},
    }


def idle_cpu(pids: dict[str, int], seconds: float = IDLE_SECONDS) -> dict[str, float]:
    """Each process's CPU while no change flows, in % of one core (the floor under the latency CPU)."""
    before = cpu_of(pids)
    time.sleep(seconds)
    return {name: round((spent - before[name]) / seconds * 100, 1) for name, spent in cpu_of(pids).items()}


def latency(bench: Bench, server: int) -> dict[str, Any]:
    """Both sides live at a steady rate; CPU over the writes and the wait for the last receive."""
    sides = {"debezium": bench.debezium, "cdc-sync": bench.cdc_sync}
    group = group_at_end(bench.settings.kafka_bootstrap, TOPIC, "latency")
    with bench.cdc_sync_run("latency", group) as process:
        not_live = warm_up(bench)
        pids = {"debezium-server": server, "cdc-sync": process.pid, "connect": bench.connect}
        pids |= {"kafka": bench.kafka} | bench.walsender(SLOT) | bench.walsender(CONNECT_SLOT)
        idle = idle_cpu(pids)
        before, cpu_before = {side: r.tally()["changes"] for side, r in sides.items()}, cpu_of(pids)
        ids = steady_writes(bench.crm, PER_MINUTE, LATENCY_SECONDS)
        deadline = time.monotonic() + TIMEOUT_S
        results = {side: wait_for(r, ids, before[side], deadline) for side, r in sides.items()}
        cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_of(pids).items()}
    figures = {side: latency_figures(results[side], len(ids), cpu, side) for side in sides}
    p99s = [figures[side]["commit_to_receive_ms"].get("p99") for side in ("cdc-sync", "debezium")]
    return {
        "changes_per_minute": PER_MINUTE,
        "changes": len(ids),
        **figures,
        "p99_ratio": ratio(*p99s),
        "not_live_before_writes": not_live,
        "idle_cpu_percent_of_a_core": idle,
    }


def measure(bench: Bench) -> dict[str, Any]:
    # Other work on the machine skews every figure here: the load average goes with them.
    machine = {"cpus": os.cpu_count(), "load_average_1m_before": round(os.getloadavg()[0], 2)}
    results: dict[str, Any] = {"machine": machine, "debezium_server": DEBEZIUM_SERVER}
    with slot_and_publication(bench.crm, bench.replication):
        group = group_at_end(bench.settings.kafka_bootstrap, TOPIC, "throughput")
        ids, captured = capture(bench)
        throughput = {"cdc-sync": cdc_sync_throughput(bench, ids, group)}
        with debezium_server(
            bench.tmp / "debezium-server", f"{RECEIVER}/debezium", DEBEZIUM_HTTP_PORT
        ) as server:
            throughput["debezium"] = debezium_throughput(bench, ids, server)
            latency_results = latency(bench, server)
    rates = [throughput[side]["changes_per_s"] for side in ("cdc-sync", "debezium")]
    results["throughput"] = {
        "warmup_changes": WARMUP,
        "capture_by_connect": captured,
        **throughput,
        "path_cpu_s_per_1000": path_totals(throughput, captured),
        "ratio": ratio(*rates),
    }
    results["latency"] = latency_results
    machine["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    return results


def main() -> None:
    settings = Settings()
    migrate(state_engine(settings, "owner"))
    install()
    os.environ.setdefault(SECRET_ENV, "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    receiver = [sys.executable, "-m", "bench.peer_receiver", str(RECEIVER_PORT)]
    with running(receiver, WORKDIR / "receiver.log") as process:
        wait_http(f"{RECEIVER}/_tally/debezium")
        results = measure(Bench(settings, WORKDIR, process.pid))
    results["problems"] = problems(results) + busy(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"written to {RESULTS}; logs in {WORKDIR}")


if __name__ == "__main__":
    main()
