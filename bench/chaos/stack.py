"""The shared stack's parts, stopped and started through ops/stack.sh, and the connector's health.

Whatever a scenario does, `restored()` brings every part back up and the connector's tasks to
RUNNING before the next scenario (or the end of the run): others use the same stack.
"""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import httpx

from bench.processes import ROOT

Part = Literal["postgres", "registry", "kafka", "connect"]
STACK = str(ROOT / "ops" / "stack.sh")
CONNECTOR = "crm-postgres"
CONNECT_URL = os.environ.get("CDC_SYNC_CONNECT_URL", "http://127.0.0.1:8083")
HEALTHY_WAIT_S = 300.0


def _stack(*args: str) -> str:
    done = subprocess.run([STACK, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ops/stack.sh {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def stop(part: Part) -> None:
    _stack("stop", part)


def up() -> None:
    """Starts whatever is not running and waits until each part is healthy."""
    _stack("up")


def restart(part: Part) -> float:
    """Stops one part and starts it again; returns the seconds until it was healthy."""
    began = time.monotonic()
    stop(part)
    up()
    return time.monotonic() - began


def connector_states() -> tuple[str, list[str]]:
    """(connector state, task states) from Kafka Connect; ("absent", []) when it cannot tell."""
    try:
        status = httpx.get(f"{CONNECT_URL}/connectors/{CONNECTOR}/status", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return "absent", []
    tasks = [str(task.get("state")) for task in status.get("tasks", [])]
    return str(status.get("connector", {}).get("state", "absent")), tasks


def connector_running() -> bool:
    state, tasks = connector_states()
    return state == "RUNNING" and bool(tasks) and all(task == "RUNNING" for task in tasks)


def wait_connector(timeout_s: float) -> float | None:
    """Seconds until the connector and its tasks run, None if not within `timeout_s`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if connector_running():
            return time.monotonic() - began
        time.sleep(1)
    return None


def restart_failed_tasks() -> None:
    """What an operator does for a FAILED task: restart the connector with its failed tasks."""
    httpx.post(
        f"{CONNECT_URL}/connectors/{CONNECTOR}/restart", params={"includeTasks": "true", "onlyFailed": "true"}
    )


def ensure_healthy() -> None:
    """Every part up and the connector RUNNING, restarting failed tasks if it has to."""
    up()
    if wait_connector(60) is None:
        restart_failed_tasks()
        if wait_connector(HEALTHY_WAIT_S) is None:
            raise RuntimeError(f"connector {CONNECTOR} is not RUNNING: {connector_states()}")


@contextmanager
def restored() -> Iterator[None]:
    try:
        yield
    finally:
        ensure_healthy()
