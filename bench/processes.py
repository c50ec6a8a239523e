"""The processes a benchmark drives: vendor sandboxes and `cdc-sync run`, with a group started where asked."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from cdc_sync.vendors.registry import SANDBOXES

ROOT = Path(__file__).parents[1]
CLI = str(Path(sys.executable).parent / "cdc-sync")
METRICS_PORT = 9128
SANDBOX_PORTS = tuple(app.port for app in SANDBOXES.values())
PORTS_WAIT_S = float(os.environ.get("BENCH_PORTS_WAIT_SECONDS", "900"))
# What the benchmark changes in the repo config, recorded with the figures: the sandboxes impose
# no vendor rate limit, so neither does cdc-sync; concurrency and batching stay as configured.
OVERRIDES: dict[str, Any] = {"rate_limit_per_s": 100_000}
LOADED_TABLES = frozenset({"public.contacts", "public.contact_tags", "public.subscriptions"})


def bench_config(path: Path, group: str) -> Path:
    """The repo config, unthrottled: benchmarks measure cdc-sync, not the vendor's limits."""
    config: dict[str, Any] = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["consumer"].update(group_id=group, metrics_port=METRICS_PORT)
    # Only the destinations the load reaches (the contact tables), so each one's figures count.
    config["destinations"] = {
        name: {**destination, **OVERRIDES}
        for name, destination in config["destinations"].items()
        if LOADED_TABLES & set(destination["tables"])
    }
    path.write_text(tomli_w.dumps(config))
    return path


def tombstones_on_delete() -> bool:
    """Whether Debezium follows each delete with a tombstone record (one more offset per delete)."""
    connector = json.loads((ROOT / "connectors" / "crm-postgres.json").read_text())
    return str(connector["config"].get("tombstones.on.delete", "true")).lower() == "true"


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer in {timeout_s:.0f}s")


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def wait_for_sandboxes() -> None:
    """Every vendor's stand-in answers (`cdc-sync sandbox` starts one process per vendor)."""
    for port in SANDBOX_PORTS:
        wait_http(f"http://127.0.0.1:{port}/_sandbox/faults")


def reset_sandboxes() -> None:
    for port in SANDBOX_PORTS:
        httpx.post(f"http://127.0.0.1:{port}/_sandbox/reset", timeout=30).raise_for_status()


def metric_value(name: str, port: int = METRICS_PORT) -> float | None:
    """The largest sample of a gauge on a `/metrics` page, None when the page or the gauge is absent."""
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
    ]
    return max(values) if values else None


def wait_for_sandbox_ports() -> None:
    """Another sandbox (a test run in the same tree) would answer for ours and share our CPUs: wait."""
    deadline = time.monotonic() + PORTS_WAIT_S
    while taken := [port for port in SANDBOX_PORTS if answers(f"http://127.0.0.1:{port}/_sandbox/faults")]:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"bench: ports {taken} still serve another sandbox; stop it so the figures are ours"
            )
        print(f"bench: ports {taken} serve another sandbox; waiting", flush=True)
        time.sleep(10)


@contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
