"""What `make bench-peer` reads while a side runs: the receiver's tallies and processes' CPU.

CPU is utime + stime from /proc/<pid>/stat (all threads of the process), in seconds.
"""

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.peer_receiver import Record

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STATE = Path(os.environ.get("CDC_SYNC_STATE", Path.home() / ".cache" / "cdc-sync" / "state"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stack_pid(part: str, main_class: str) -> int:
    """The pid of a stack JVM: ops/stack.sh's pid file when it still names it, else a /proc scan."""
    pid_file = STATE / "run" / f"{part}.pid"
    if pid_file.is_file() and main_class in _command_line(int(pid_file.read_text())):
        return int(pid_file.read_text())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and main_class in _command_line(int(entry.name)):
            return int(entry.name)
    raise SystemExit(f"bench-peer: no {part} process ({main_class}) is running")


class Receiver:
    """Client of bench.peer_receiver for one side."""

    def __init__(self, base_url: str, side: str) -> None:
        self.side = side
        self._client = httpx.Client(base_url=base_url, timeout=30)

    def tally(self) -> dict[str, int]:
        figures: dict[str, int] = self._client.get(f"/_tally/{self.side}").raise_for_status().json()
        return figures

    def records(self) -> list[Record]:
        rows = self._client.get(f"/_records/{self.side}").raise_for_status().json()
        return [(int(row), int(commit), int(received)) for row, commit, received in rows]


@dataclass
class Watch:
    """One side over one phase: records of the phase's rows, CPU over the window and its changes."""

    records: list[Record] = field(default_factory=list)
    requests: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    changes_in_cpu_window: int = 0
    complete: bool = False


def covered(records: list[Record], ids: set[int]) -> list[Record]:
    return [record for record in records if record[0] in ids]


def watch(receiver: Receiver, ids: set[int], pids: dict[str, int], timeout_s: float, skip: int = 0) -> Watch:
    """Wait until the side has every id. The window (CPU, requests) opens once the `skip`
    warm-up changes queued ahead of `ids` are in, so start-up and JIT warm-up are not counted,
    and closes when the last id arrives."""
    baseline = receiver.tally()["changes"] + skip
    deadline = time.monotonic() + timeout_s
    while receiver.tally()["changes"] <= baseline:
        if time.monotonic() > deadline:
            return Watch()
        time.sleep(0.02)
    cpu_start, opened = cpu_of(pids), receiver.tally()
    result = wait_for(receiver, ids, baseline, deadline)
    cpu_end, closed = cpu_of(pids), receiver.tally()
    result.requests = closed["requests"] - opened["requests"]
    result.cpu = {name: cpu_end[name] - cpu_start[name] for name in pids}
    result.changes_in_cpu_window = closed["changes"] - opened["changes"]
    return result


def wait_for(receiver: Receiver, ids: set[int], baseline: int, deadline: float) -> Watch:
    """Poll the cheap tally; read the records only once enough changes could be there."""
    while True:
        enough = receiver.tally()["changes"] - baseline >= len(ids)
        if enough or time.monotonic() > deadline:
            records = covered(receiver.records(), ids)
            if {record[0] for record in records} >= ids:
                return Watch(records=records, complete=True)
            if time.monotonic() > deadline:
                return Watch(records=records)
        time.sleep(0.02 if not enough else 0.5)
