"""CPU accounting per process group over a benchmark phase, read from /proc.

A group is a set of root pids and everything below them (the sandbox may fork one process per
vendor, PostgreSQL one per connection). A tree's CPU is the utime + stime of its live processes
plus their cutime + cstime: children that exited during the phase were reaped by a live parent,
so their time lands in its cutime and the difference between two samples still counts it.
"""

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
STACK_JVMS = ("kafka", "connect", "registry")
Roots = Callable[[], list[int]]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields after `(comm)` of /proc/<pid>/stat: state is [0], ppid [1], utime [11] … cstime [14]."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _processes() -> dict[int, tuple[int, int]]:
    """Every live pid → (parent pid, CPU ticks of it and its reaped children)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            table[int(entry)] = (int(fields[1]), sum(int(value) for value in fields[11:15]))
    return table


def _tree_ticks(roots: list[int], table: Mapping[int, tuple[int, int]]) -> int:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen: set[int] = set()
    stack = [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    return sum(table[pid][1] for pid in seen)


@dataclass(frozen=True)
class CpuSample:
    seconds: dict[str, float]  # CPU seconds of each group so far
    at: float  # time.monotonic() of the sample


class CpuMeter:
    """Samples the CPU seconds of named process groups; `per_change` turns two samples into figures."""

    def __init__(self, groups: Mapping[str, Roots]) -> None:
        self._groups = dict(groups)

    def sample(self) -> CpuSample:
        table, at = _processes(), time.monotonic()
        return CpuSample(
            {name: _tree_ticks(roots(), table) / TICKS_PER_S for name, roots in self._groups.items()}, at
        )


def cpu_figures(before: CpuSample, after: CpuSample, changes: int) -> dict[str, object]:
    """CPU of each group between two samples: seconds, ms per 1,000 changes, cores busy on average."""
    wall_s = after.at - before.at
    used = {name: after.seconds[name] - before.seconds.get(name, 0.0) for name in after.seconds}
    return {
        "window_s": round(wall_s, 3),
        "changes": changes,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "cpu_s": {name: round(value, 2) for name, value in used.items()},
        "ms_per_1000_changes": {name: _per_thousand(value, changes) for name, value in used.items()},
        "cores": {name: round(value / wall_s, 2) if wall_s > 0 else None for name, value in used.items()},
    }


def _per_thousand(cpu_s: float, changes: int) -> float | None:
    return round(cpu_s * 1_000_000 / changes, 1) if changes else None


def us_per_change(before: CpuSample, after: CpuSample, group: str, changes: int) -> float | None:
    used = after.seconds[group] - before.seconds.get(group, 0.0)
    return round(used * 1_000_000 / changes, 1) if changes else None


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the largest resident set the process has had."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _state_dir() -> Path:
    home = Path(os.environ.get("CDC_SYNC_HOME", Path.home() / ".cache" / "cdc-sync"))
    return Path(os.environ.get("CDC_SYNC_STATE", home / "state"))


def _pg_data_dir() -> Path:
    default = Path("/var/lib/cdc-sync/postgres") if os.geteuid() == 0 else _state_dir() / "postgres"
    return Path(os.environ.get("CDC_SYNC_PG_DIR", default)) / "data"


def _pid_file(path: Path) -> list[int]:
    try:
        first = path.read_text().split()[0]
    except (OSError, IndexError):
        return []
    return [int(first)] if first.isdigit() and Path(f"/proc/{first}").exists() else []


def _postgres_roots() -> list[int]:
    """The postmaster from its pid file; failing that every `postgres` process whose parent is not one."""
    found = _pid_file(_pg_data_dir() / "postmaster.pid")
    if found:
        return found
    names = {pid: _comm(pid) for pid in _processes()}
    return [pid for pid, name in names.items() if name == "postgres" and names.get(_ppid(pid)) != "postgres"]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else 0


def stack_groups() -> dict[str, Roots]:
    """The JVMs `ops/stack.sh` started (pid files under its state dir) and PostgreSQL."""
    run = _state_dir() / "run"
    groups: dict[str, Roots] = {name: _from_pid_file(run / f"{name}.pid") for name in STACK_JVMS}
    groups["postgres"] = _postgres_roots
    return groups


def _from_pid_file(path: Path) -> Roots:
    return lambda: _pid_file(path)


def fixed(pid: int) -> Roots:
    return lambda: [pid]
