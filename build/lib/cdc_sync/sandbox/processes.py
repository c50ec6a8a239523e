"""`cdc-sync sandbox`: one process per vendor app, so no sandbox shares a CPU core's event loop
with another. The parent starts the children, stops them all on SIGINT/SIGTERM, and stops the
others and fails when one of them dies.

A child reads its settings as one JSON line on stdin (secrets stay off the command line) and
keeps reading: the end of stdin means the parent is gone, so an orphan stops by itself.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

import uvicorn

from cdc_sync.observability.logs import configure_logging, register_secrets
from cdc_sync.sandbox.server import (
    APPS,
    QUIET_DROPS,
    STOP_SIGNALS,
    SandboxSettings,
    VendorName,
    server_config,
)

log = logging.getLogger(__name__)
POLL_S = 0.1
STOP_TIMEOUT_S = 10.0
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


def start_child(vendor: VendorName, settings: SandboxSettings) -> subprocess.Popen[bytes]:
    # Its own process group: a terminal's Ctrl+C reaches the parent only, which stops each child once.
    child = subprocess.Popen(
        [sys.executable, "-m", "cdc_sync.sandbox.processes", vendor], stdin=subprocess.PIPE, process_group=0
    )
    assert child.stdin is not None, "stdin is a pipe"
    child.stdin.write(settings.model_dump_json().encode() + b"\n")
    child.stdin.flush()
    return child


@dataclass
class Supervisor:
    children: Mapping[VendorName, subprocess.Popen[bytes]]
    stop_requested: threading.Event

    def dead_child(self) -> VendorName | None:
        return next((vendor for vendor, child in self.children.items() if child.poll() is not None), None)

    def watch(self) -> VendorName | None:
        """Until a stop signal (None) or until a child dies (its vendor)."""
        while not self.stop_requested.wait(POLL_S):
            dead = self.dead_child()
            if dead is not None:
                return dead
        return None

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdin is not None:
                child.stdin.close()

    def exit_code(self, dead: VendorName | None) -> int:
        codes = {vendor: child.returncode for vendor, child in self.children.items()}
        if dead is not None:
            log.error("the %s sandbox exited with %s; stopped the others", dead, codes[dead])
            return 1
        return 0 if all(code in CLEAN_EXITS for code in codes.values()) else 1


def serve_in_processes(settings: SandboxSettings) -> int:
    """Serve every vendor sandbox in its own process until SIGINT/SIGTERM; the exit code."""
    stop_requested = threading.Event()
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop_requested.set()) for sig in STOP_SIGNALS}
    supervisor = Supervisor({}, stop_requested)
    try:
        supervisor.children = {vendor: start_child(vendor, settings) for vendor in APPS}
        dead = supervisor.watch()
    finally:
        supervisor.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return supervisor.exit_code(dead)


def stop_when_orphaned(server: uvicorn.Server, stdin: IO[bytes]) -> None:
    # Raw reads of the descriptor: a daemon thread blocked in the buffered reader holds its lock,
    # and Python aborts on it when the server exits first (e.g. its port was taken).
    def wait_for_end() -> None:
        while os.read(stdin.fileno(), 4096):
            pass
        server.should_exit = True

    threading.Thread(target=wait_for_end, name="parent-watch", daemon=True).start()


def serve_child(vendor: VendorName, stdin: IO[bytes]) -> None:
    settings = SandboxSettings.model_validate_json(stdin.readline())
    configure_logging(logging.WARNING, json=False)
    register_secrets(*settings.secrets())
    server = uvicorn.Server(server_config(settings, vendor))
    logging.getLogger("uvicorn.error").addFilter(QUIET_DROPS)
    stop_when_orphaned(server, stdin)
    server.run()  # uvicorn's own handlers stop it on SIGTERM/SIGINT
    if not server.started:
        sys.exit(1)  # e.g. the port is taken: the parent must see a failure


def main(argv: list[str]) -> None:
    by_name: dict[str, VendorName] = {name: name for name in APPS}
    vendor = by_name.get(argv[1] if len(argv) > 1 else "")
    if vendor is None:
        sys.exit(f"usage: python -m cdc_sync.sandbox.processes {{{','.join(APPS)}}}")
    serve_child(vendor, sys.stdin.buffer)


if __name__ == "__main__":
    main(sys.argv)
