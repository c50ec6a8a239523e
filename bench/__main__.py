"""`make bench`: figures printed and written to bench/results/bench.json.

(a) ceiling: consume + decode of the changes the pipeline run delivered, (b) the full pipeline
to the no-fault sandboxes, (c) their ratio, (d) end-to-end latency at a steady change rate and
the part cdc-sync adds after the change is visible in Kafka, (e) inbound: signed webhooks at a
steady rate → CRM commit latency, and requests/s at saturation.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from bench.ceiling import ceiling
from bench.inbound import inbound
from bench.pipeline import latency, throughput
from bench.processes import CLI, running, wait_http
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate

RESULTS = Path(__file__).parent / "results" / "bench.json"
PIPELINE_EVENTS = int(os.environ.get("BENCH_PIPELINE_EVENTS", "5000"))
LATENCY_PER_MINUTE = int(os.environ.get("BENCH_CHANGES_PER_MINUTE", "10000"))
LATENCY_SECONDS = int(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
INBOUND_RATE = float(os.environ.get("BENCH_WEBHOOKS_PER_S", "1000"))
INBOUND_SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "10"))


def main() -> None:
    settings = Settings()
    crm = create_engine(settings.crm_admin_dsn.get_secret_value())
    state = create_engine(settings.crm_dsn.get_secret_value())
    migrate(state)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, running([CLI, "sandbox"], Path(tmp) / "sandbox.log"):
        wait_http("http://127.0.0.1:9101/_sandbox/faults")
        pipeline, starts = throughput(settings, crm, state, Path(tmp), PIPELINE_EVENTS)
        results["a_ceiling_consume_decode"] = ceiling(settings, starts, PIPELINE_EVENTS)
        results["b_pipeline_to_sandbox"] = pipeline
        results["c_ratio"] = round(
            pipeline["events_per_s"] / results["a_ceiling_consume_decode"]["events_per_s"], 4
        )
        results["d_latency"] = latency(settings, crm, state, Path(tmp), LATENCY_PER_MINUTE, LATENCY_SECONDS)
        with running([CLI, "serve"], Path(tmp) / "serve.log"):
            wait_http("http://127.0.0.1:8000/readyz")
            results["e_inbound"] = inbound(crm, state, INBOUND_RATE, INBOUND_SECONDS)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
