"""`cdc-sync sandbox` as operators run it: one process per vendor, stopped together."""

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from cdc_sync.sandbox.server import SandboxSettings
from tests.unit.sandbox.fakes import bases, on_free_ports

LAUNCH = (
    "import sys; from cdc_sync.sandbox.processes import serve_in_processes; "
    "from cdc_sync.sandbox.server import SandboxSettings; "
    "sys.exit(serve_in_processes(SandboxSettings.model_validate_json(sys.argv[1])))"
)


def launch(settings: SandboxSettings) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", LAUNCH, settings.model_dump_json()])


def up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/_sandbox/faults", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(condition: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("gave up waiting")


def test_each_vendor_has_its_own_process_and_sigterm_stops_them_all() -> None:
    settings = on_free_ports()
    parent = launch(settings)
    try:
        wait_until(lambda: all(up(base) for base in bases(settings)))
        # Separate processes: faults put on one sandbox leave the others alone.
        httpx.put(f"{bases(settings)[0]}/_sandbox/faults", json={"reject_status": 500})
        faults = [httpx.get(f"{base}/_sandbox/faults").json()["reject_status"] for base in bases(settings)]
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=15) == 0
    finally:
        parent.kill()
    assert faults == [500] + [None] * (len(faults) - 1)
    assert not any(up(base) for base in bases(settings))


def test_when_one_vendor_cannot_start_the_others_stop_and_the_exit_is_a_failure() -> None:
    settings = on_free_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.ports.erp))
        taken.listen()
        parent = launch(settings)
        try:
            code = parent.wait(timeout=20)
        finally:
            parent.kill()
    assert code != 0
    others = [base for base in bases(settings) if not base.endswith(f":{settings.ports.erp}")]
    assert not any(up(base) for base in others)


@pytest.mark.parametrize("argument", [[], ["crm"]])
def test_a_child_started_by_hand_with_a_bad_vendor_explains_itself(argument: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cdc_sync.sandbox.processes", *argument], capture_output=True, timeout=30
    )
    assert result.returncode != 0
    assert b"usage" in result.stderr
