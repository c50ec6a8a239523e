"""`cdc-sync run` over a phase's window, until every change owed an ack has one (or progress stops).

CPU is sampled for every process group while waiting. For a pre-produced window the CPU window
opens at the last poll before the first ack (so start-up, imports and the group join are not
charged to the changes) and closes when the last ack is seen.
"""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.acks import Acks, Ledger
from bench.cpu import CpuMeter, CpuSample, cpu_figures, peak_rss_mb, us_per_change
from bench.processes import CLI, bench_config, metric_value, running
from bench.rig import Rig

STALL_S = float(os.environ.get("BENCH_STALL_SECONDS", "60"))
STALL_METRIC = "cdc_sync_event_loop_longest_stall_seconds"


@dataclass(frozen=True)
class Waited:
    complete: bool
    acks: dict[str, Acks]
    before: CpuSample
    after: CpuSample
    reason: str = ""


class RunningSync:
    def __init__(self, process: subprocess.Popen[bytes], meter: CpuMeter, log: Path) -> None:
        self.process, self.meter, self.log = process, meter, log

    def wait_acked(
        self,
        ledger: Ledger,
        expected: dict[str, int],
        before: CpuSample | None = None,
        progress: bool = False,
    ) -> Waited:
        """Polls the ledger; `before` fixes the CPU window's start, else it opens at the first ack."""
        owed = sum(expected.values())
        start = before or self.meter.sample()
        last_rows, last_move, last_print, last_exact = -1, time.monotonic(), time.monotonic(), 0.0
        while True:
            rows, now = ledger.ok_rows(), time.monotonic()
            if rows == 0 and before is None:
                start = self.meter.sample()
            if rows > last_rows:
                last_rows, last_move = rows, now
            # Rows count repeated acks too: the distinct-key count decides, at most every 2 s.
            if rows >= owed and now - last_exact >= 2:
                last_exact = now
                if _all_acked(acks := ledger.acks(), expected):
                    return Waited(True, acks, start, self.meter.sample())
            reason = self._stopped(now - last_move)
            if reason:
                return Waited(False, ledger.acks(), start, self.meter.sample(), reason)
            if progress and now - last_print >= 10:
                last_print = now
                _print_progress(rows, owed, now - start.at)
            time.sleep(0.25)

    def _stopped(self, idle_s: float) -> str:
        if self.process.poll() is not None:
            return f"cdc-sync run exited with {self.process.returncode}: {self.log_tail(3)}"
        return f"no new acks for {idle_s:.0f}s" if idle_s > STALL_S else ""

    def log_tail(self, lines: int = 20) -> str:
        return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def figures(self, waited: Waited, changes: int) -> dict[str, Any]:
        """CPU of every group over the wait, cdc-sync's µs per change, peak RSS and longest loop stall."""
        return {
            "cpu_us_per_change": us_per_change(waited.before, waited.after, "cdc_sync", changes),
            "cpu_s_including_startup": round(waited.after.seconds["cdc_sync"], 2),
            "cpu": cpu_figures(waited.before, waited.after, changes),
            "peak_rss_mb": peak_rss_mb(self.process.pid),
            "event_loop_longest_stall_s": metric_value(STALL_METRIC),
        }


def _all_acked(acks: dict[str, Acks], expected: dict[str, int]) -> bool:
    return all(acks[name].acked_keys >= owed for name, owed in expected.items())


def _print_progress(rows: int, owed: int, seconds: float) -> None:
    rate = rows / seconds if seconds > 0 else 0.0
    print(f"  acked {rows:,} / {owed:,} deliveries after {seconds:.0f}s ({rate:,.0f}/s)", flush=True)


@contextmanager
def cdc_sync_run(rig: Rig, group: str) -> Iterator[RunningSync]:
    config = bench_config(rig.tmp / f"{group}.toml", group)
    log = rig.tmp / f"{group}.log"
    with running([CLI, "--config", str(config), "run"], log) as process:
        yield RunningSync(process, rig.meter(cdc_sync=process.pid), log)


def ack_seconds(acks: dict[str, Acks]) -> float:
    """First to last vendor ack over all destinations (the database's clock)."""
    firsts = [a.first_at for a in acks.values() if a.first_at is not None]
    lasts = [a.last_at for a in acks.values() if a.last_at is not None]
    return (max(lasts) - min(firsts)).total_seconds() if firsts else 0.0
