"""The replication slot dropped under a running connector: does anything alert within 30 s?

Changes made while no slot exists are gone from the stream (that is what slot loss means); the
pass is an alert an operator can act on. The harness watches what `cdc-sync run` exports on
/metrics (the series ops/prometheus/alerts.yml rules use) and the connector's state.
"""

import re
import time
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.chaos import stack
from bench.chaos.outbound import Fault, Run
from bench.processes import METRICS_PORT, ROOT

SLOT = "cdc_sync_crm"
WATCH_S = 30.0
# The metrics the slot and connector alerts read (alerts.yml), and neighbours worth seeing.
WATCHED = (
    "cdc_sync_replication_slot_present",
    "cdc_sync_connector_running",
    "cdc_sync_replication_slot_lag_bytes",
    "cdc_sync_consumer_lag_messages",
)
PRESENT = f'cdc_sync_replication_slot_present{{slot="{SLOT}"}}'
# CdcSyncReplicationSlotMissing has no `for:`: it fires at the first evaluation after a scrape
# that reads 0 (15 s each in ops/prometheus/prometheus.yml), so the gauge must read 0 by then.
SCRAPE_AND_EVALUATE_S = 15.0
SUPERUSER_DSN = "postgresql+psycopg://postgres@/crm?host=/var/lib/cdc-sync/postgres&port=5432"
# The LSN as a bigint: Debezium's offset stores it as a number (pg_lsn minus 0/0 is numeric).
CREATE = text("SELECT (lsn - '0/0'::pg_lsn)::bigint FROM pg_create_logical_replication_slot(:s, 'pgoutput')")
DROP = text(
    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
    "WHERE slot_name = :s AND active_pid IS NOT NULL"
)


def drop_slot(dsn: str, timeout_s: float = 30) -> float:
    """Terminates the slot's walsender and drops the slot before Debezium reconnects; seconds taken."""
    engine = create_engine(dsn, isolation_level="AUTOCOMMIT")
    began = time.monotonic()
    try:
        while time.monotonic() - began < timeout_s:
            with engine.connect() as conn:
                conn.execute(DROP, {"s": SLOT})
                try:
                    conn.execute(text("SELECT pg_drop_replication_slot(:s)"), {"s": SLOT})
                    return round(time.monotonic() - began, 2)
                except Exception:  # active again already: terminate once more
                    time.sleep(0.05)
        raise RuntimeError(f"slot {SLOT} could not be dropped in {timeout_s:.0f}s")
    finally:
        engine.dispose()


def slot_series(page: str) -> dict[str, str]:
    """The watched samples of a /metrics page, by series name with labels."""
    samples = {}
    for line in page.splitlines():
        if line.startswith(WATCHED):
            name, _, value = line.rpartition(" ")
            samples[name] = value
    return samples


def _metrics() -> dict[str, str]:
    try:
        return slot_series(httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).text)
    except httpx.HTTPError:
        return {}


def _watch(seconds: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    began = time.monotonic()
    while (at := time.monotonic() - began) < seconds:
        state, tasks = stack.connector_states()
        samples = _metrics()
        seen.append({"at_s": round(at, 1), "connector": state, "tasks": tasks, "series": samples})
        time.sleep(1)
    return seen


def alert_after_s(watched: list[dict[str, Any]]) -> float | None:
    """Seconds from the drop until the alert fires: the gauge reads 0, plus a scrape and an
    evaluation; None if the gauge never read 0."""
    zero = next((w["at_s"] for w in watched if w["series"].get(PRESENT) in ("0", "0.0")), None)
    return None if zero is None else round(zero + SCRAPE_AND_EVALUATE_S, 1)


def slot_rules(rules: str) -> dict[str, str]:
    """Alert rules (name → `for:`) whose expression reads a slot or connector metric."""
    found = {}
    for block in rules.split("- alert:")[1:]:
        name = block.split()[0]
        expr = block.split("labels:")[0]
        if "replication_slot" in expr or "connector" in expr:
            held = re.search(r"\bfor:\s*(\S+)", expr)
            found[name] = held.group(1) if held else "0s"
    return found


def repair(dsn: str) -> None:
    """The operator's repair of a task that failed on the lost slot (README, runbook slot lost):
    stop the connector, create the slot, move the connector's offset to it, resume. The changes
    in between stay lost until `reconcile --fix`. The connector is resumed whatever fails: the
    stack is shared."""
    url = f"{stack.CONNECT_URL}/connectors/{stack.CONNECTOR}"
    httpx.put(f"{url}/stop", timeout=30).raise_for_status()
    try:
        offsets = httpx.get(f"{url}/offsets", timeout=30).json()["offsets"][0]
        lsn = _create_slot(dsn)
        offset = {**offsets["offset"], "lsn": lsn, "lsn_proc": lsn, "lsn_commit": lsn}
        offset.pop("lsn_events_processed", None)
        body = {"offsets": [{"partition": offsets["partition"], "offset": offset}]}
        httpx.patch(f"{url}/offsets", json=body, timeout=30).raise_for_status()
    finally:
        httpx.put(f"{url}/resume", timeout=30).raise_for_status()


def _create_slot(dsn: str) -> int:
    engine = create_engine(dsn, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(conn.execute(CREATE, {"s": SLOT}).scalar_one())
    finally:
        engine.dispose()


def slot_dropped(lead_s: float, dsn: str = SUPERUSER_DSN) -> Fault:
    def fault(run: Run) -> None:
        time.sleep(lead_s)
        run.figures["drop_took_s"] = drop_slot(dsn)
        watched = _watch(WATCH_S)
        run.figures["watched"] = watched
        rules = slot_rules((ROOT / "ops" / "prometheus" / "alerts.yml").read_text())
        run.figures["rules_on_slot_or_connector"] = rules
        run.figures["alert_s"] = alert_after_s(watched)
        if run.figures["alert_s"] is None:
            run.notes.append(f"{PRESENT} never read 0 within {WATCH_S:.0f}s of the drop")
        if stack.wait_connector(60) is None:
            run.notes.append(f"connector after the slot loss: {str(stack.connector_states())[:300]}")
            run.needs_human.append("slot repair: connector stopped, slot created, offset moved, resumed")
            repair(dsn)
        run.figures["connector_running_after_repair_s"] = stack.wait_connector(120)
        run.fault_ended()

    return fault
