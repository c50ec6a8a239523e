"""A steady stream of CRM changes on a thread, which a scenario can hold while the CRM is down, and
cdc-sync processes a scenario may kill -9 and start again."""

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from bench.load import MixedLoad
from bench.processes import ROOT

TICK_S = 0.05


class Stream:
    """The load's mix at `per_s` for `seconds`, one transaction per tick; a late tick catches up."""

    def __init__(self, crm: Engine, load: MixedLoad, per_s: float, seconds: float) -> None:
        self.crm, self.load, self.per_s, self.seconds = crm, load, per_s, seconds
        self.error = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="chaos-stream", daemon=True)

    def start(self) -> "Stream":
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @contextmanager
    def held(self) -> Iterator[None]:
        """No transaction is under way inside, and none starts until it ends."""
        with self._lock:
            yield

    def owed(self) -> dict[str, int]:
        with self._lock:
            return self.load.expected_acks()

    def _run(self) -> None:
        start, written = time.monotonic(), 0
        while (elapsed := time.monotonic() - start) < self.seconds:
            due = int(self.per_s * elapsed) - written
            if due > 0:
                with self._lock:
                    try:
                        with self.crm.begin() as conn:
                            written += self.load.write(conn, due)
                    except Exception as exc:  # the figures would be wrong from here on: say so
                        self.error = f"CRM write failed: {type(exc).__name__}: {str(exc)[:200]}"
                        return
            time.sleep(TICK_S)


class Process:
    """A cdc-sync command that can be killed with SIGKILL and started again, its output in one log."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> "Process":
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=out)
        return self

    def kill9(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def exited(self) -> str:
        if self.popen is not None and self.popen.poll() is not None:
            tail = " | ".join(self.log.read_text(errors="replace").splitlines()[-3:])
            return f"exited with {self.popen.returncode}: {tail}"
        return ""


@contextmanager
def started(args: list[str], log: Path) -> Iterator[Process]:
    process = Process(args, log).start()
    try:
        yield process
    finally:
        process.stop()
