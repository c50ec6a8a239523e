"""`make bench`: figures printed and written to bench/results/bench.json.

ceiling.consume_decode / ceiling.decode_plan: what one process can do with the pipeline run's
records without the network (see ceiling.py); pipeline: `cdc-sync run` to the sandboxes with
both destinations, each change's effect checked exactly once; the ratios of the two; latency at
10,000 and 60,000 changes/min; backlog: a large pre-produced backlog drained; inbound: signed
webhooks into `cdc-sync serve`; callcenter: call events at the call center's peak (10,000/min),
screen pops over SSE and a writer stopped on purpose (see callcenter.py); backfill: live p99
beside a 100k-ticket backfill (see backfill.py). Every drained phase
reports the CPU of cdc-sync, the sandbox, each JVM of the stack and PostgreSQL. The outbound load
is a mix of CRM changes (see load.py).
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from bench.backfill import backfill
from bench.backlog import backlog
from bench.callcenter import callcenter
from bench.ceiling import ceilings
from bench.cpu import cpu_figures
from bench.figures import table
from bench.inbound import inbound
from bench.pipeline import latency, throughput
from bench.processes import CLI, running, wait_for_sandbox_ports, wait_for_sandboxes, wait_http
from bench.rig import Rig
from cdc_sync.config import load_config
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate

RESULTS = Path(__file__).parent / "results" / "bench.json"
PIPELINE_EVENTS = int(os.environ.get("BENCH_PIPELINE_EVENTS", "20000"))
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "1000000"))
LATENCY_RATES = (10_000, 60_000)
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
CEILING_RUNS = int(os.environ.get("BENCH_CEILING_RUNS", "5"))
INBOUND_RATE = float(os.environ.get("BENCH_WEBHOOKS_PER_S", "1000"))
INBOUND_SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "10"))
CALL_RATE = float(os.environ.get("BENCH_CALL_EVENTS_PER_MIN", "10000")) / 60
CALL_MINUTES = float(os.environ.get("BENCH_CALL_MINUTES", "15"))
CALL_STALL_S = float(os.environ.get("BENCH_CALL_STALL_SECONDS", "20"))
WRITER_METRICS_PORT = 9129
KEYS = (
    *(
        "ceiling.consume_decode",
        "ceiling.decode_plan",
        "pipeline",
        "ratio_consume_decode",
        "ratio_decode_plan",
    ),
    *("latency", "backlog", "inbound", "callcenter", "backfill"),
)
# For a quick look at one part; the keys of the skipped ones are null.
PHASES = os.environ.get("BENCH_PHASES", "pipeline,latency,backlog,inbound,callcenter,backfill").split(",")


def _ratio(pipeline: dict[str, Any], ceiling: dict[str, Any]) -> float | None:
    rate, bound = pipeline.get("changes_per_s"), ceiling.get("changes_per_s")
    return round(rate / bound, 4) if rate and bound else None


def outbound(rig: Rig) -> dict[str, Any]:
    results: dict[str, Any] = dict.fromkeys(KEYS)
    if "pipeline" in PHASES:
        results.update(pipeline_phase(rig))
    if "latency" in PHASES:
        results["latency"] = {
            f"{per_minute}_per_min": latency(rig, per_minute, LATENCY_SECONDS) for per_minute in LATENCY_RATES
        }
    if "backlog" in PHASES:
        results["backlog"] = backlog(rig, BACKLOG)
    if "inbound" in PHASES:
        results["inbound"] = inbound_phase(rig)
    if "callcenter" in PHASES:
        results["callcenter"] = callcenter_phase(rig)
    if "backfill" in PHASES:
        alone = (results["latency"] or {}).get(f"{LATENCY_RATES[0]}_per_min")
        results["backfill"] = backfill(rig, LATENCY_SECONDS, alone)
    return results


def pipeline_phase(rig: Rig) -> dict[str, Any]:
    print(f"pipeline: {PIPELINE_EVENTS:,} changes", flush=True)
    pipeline, window = throughput(rig, PIPELINE_EVENTS)
    print("ceilings over the same records", flush=True)
    ceiling = ceilings(rig, window, CEILING_RUNS)
    return {
        "ceiling.consume_decode": ceiling["consume_decode"],
        "ceiling.decode_plan": ceiling["decode_plan"],
        "pipeline": pipeline,
        "ratio_consume_decode": _ratio(pipeline, ceiling["consume_decode"]),
        "ratio_decode_plan": _ratio(pipeline, ceiling["decode_plan"]),
    }


def inbound_phase(rig: Rig) -> dict[str, Any]:
    """bench.inbound's figures, plus the CPU of every process over the whole call (steady load,
    the wait for commits and the saturation burst, so no per-webhook figure)."""
    with running([CLI, "serve"], rig.tmp / "serve.log") as serve:
        wait_http("http://127.0.0.1:8000/readyz")
        meter = rig.meter(cdc_sync_serve=serve.pid)
        before = meter.sample()
        figures = inbound(rig.crm, rig.state, INBOUND_RATE, INBOUND_SECONDS, pids={"serve": serve.pid})
        figures["cpu_whole_call"] = cpu_figures(before, meter.sample(), 0)
    return figures


def callcenter_phase(rig: Rig) -> dict[str, Any]:
    """bench.callcenter's figures with a separate writer (so it can be stopped on purpose)."""
    print(f"callcenter: {CALL_RATE * 60:,.0f} events/min for {CALL_MINUTES:g} min", flush=True)
    writer_args = [CLI, "writer", "--metrics-port", str(WRITER_METRICS_PORT)]
    with (
        running([CLI, "serve", "--no-writer"], rig.tmp / "serve-calls.log") as serve,
        running(writer_args, rig.tmp / "writer-calls.log") as writer,
    ):
        wait_http("http://127.0.0.1:8000/readyz")
        meter = rig.meter(cdc_sync_serve=serve.pid, cdc_sync_writer=writer.pid)
        before = meter.sample()
        figures = callcenter(rig.crm, rig.state, writer.pid, CALL_RATE, CALL_MINUTES * 60, CALL_STALL_S)
        figures["cpu"] = cpu_figures(before, meter.sample(), int(figures["events"]))
    return figures


def main() -> None:
    settings = Settings()
    crm = create_engine(settings.crm_admin_dsn.get_secret_value())
    state = create_engine(settings.crm_dsn.get_secret_value())
    migrate(state_engine(settings, "owner"))
    wait_for_sandbox_ports()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running([CLI, "sandbox"], Path(tmp) / "sandbox.log") as sandbox,
    ):
        wait_for_sandboxes()
        rig = Rig(settings, load_config(settings.config), crm, state, Path(tmp), sandbox.pid)
        results = outbound(rig)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    print(table(results))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
