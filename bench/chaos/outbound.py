"""One outbound scenario: the mix streamed into the CRM while `cdc-sync run` delivers it and a fault
strikes; then every change's acknowledgements and sandbox effects are counted.

Recovery is timed from the fault's end (the part back, the last restart) to the moment every
delivery owed for the changes written until then is acknowledged. A destination that pauses is
an operator's job (`destinations resume`): the harness does it, and says so.
"""

import json
import subprocess
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import Engine, text

from bench.acks import Acks, Ledger, verdict
from bench.chaos.stream import Process, Stream
from bench.chaos.verdict import Outcome, outbound_counts
from bench.load import MixedLoad
from bench.pipeline import TOMBSTONES, Prepared, prepare
from bench.processes import CLI, bench_config, metric_value
from bench.rig import Rig
from bench.window import Window, end_offsets, wait_produced

OPEN_END = 1 << 62
POLL_S = 1.0
STALL_S = 120.0  # no new acknowledgement for this long (and none paused): not recovering


@dataclass
class Run:
    """What a fault acts on: the stream, `cdc-sync run`, the phase's ledger and the config file."""

    rig: Rig
    phase: Prepared
    stream: Stream
    sync: Process
    config: Path
    extra_records: int = 0  # records the fault put in the topics itself (poison)
    ended_at: float = 0.0  # monotonic time the fault ended; 0 until it has
    owed_at_end: dict[str, int] = field(default_factory=dict)
    needs_human: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def fault_ended(self) -> None:
        self.ended_at, self.owed_at_end = time.monotonic(), self.stream.owed()

    def acked_rows(self) -> int:
        return self.phase.ledger.ok_rows()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [CLI, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return done.stdout


Fault = Callable[[Run], None]
ConfigEdit = Callable[[dict[str, Any]], None]


def _open_ledger(rig: Rig, window: Window) -> Ledger:
    return Ledger(rig.state, rig.destinations, Window(window.starts, dict.fromkeys(window.starts, OPEN_END)))


def _config(rig: Rig, group: str, edit: ConfigEdit | None) -> Path:
    path = bench_config(rig.tmp / f"{group}.toml", group)
    if edit is not None:
        config = tomllib.loads(path.read_text())
        edit(config)
        path.write_text(tomli_w.dumps(config))
    return path


def scenario(
    rig: Rig, name: str, per_s: float, seconds: float, fault: Fault, edit: ConfigEdit | None = None
) -> Outcome:
    print(f"{name}: {per_s * seconds:,.0f} changes at {per_s:,.0f}/s over {seconds:.0f}s", flush=True)
    phase = prepare(rig, name, int(per_s * seconds))
    phase.ledger = _open_ledger(rig, phase.window)
    config = _config(rig, phase.group, edit)
    sync = Process([CLI, "--config", str(config), "run"], rig.tmp / f"{phase.group}.log").start()
    run = Run(rig, phase, Stream(rig.crm, phase.load, per_s, seconds).start(), sync, config)
    try:
        fault(run)
        if not run.ended_at:
            run.fault_ended()
        recover_s = _wait_recovered(run)
        return _judge(run, name, recover_s)
    finally:
        run.stream.join()
        _resume_paused(run)
        sync.stop()


def _wait_recovered(run: Run) -> float | None:
    """Seconds from the fault's end until the owed-by-then deliveries are acknowledged; meanwhile a
    paused destination is resumed (noted). Returns once everything written is acknowledged too."""
    recovered: float | None = None
    last_rows, last_move = -1, time.monotonic()
    while True:
        acks, now = run.phase.ledger.acks(), time.monotonic()
        if recovered is None and _covers(acks, run.owed_at_end):
            recovered = round(now - run.ended_at, 1)
        if not run.stream.running and _covers(acks, run.stream.owed()):
            return recovered
        if (rows := sum(a.acked_keys for a in acks.values())) > last_rows:
            last_rows, last_move = rows, now
        if _resume_paused(run):
            last_move = now
        if run.sync.exited() or now - last_move > STALL_S:
            run.notes.append(run.sync.exited() or f"no new acknowledgement for {STALL_S:.0f}s")
            return None
        time.sleep(POLL_S)


def _covers(acks: dict[str, Acks], owed: dict[str, int]) -> bool:
    return all(acks[name].acked_keys >= n for name, n in owed.items())


def _resume_paused(run: Run) -> bool:
    """An operator's resume of every paused destination; True when there was one."""
    if not metric_value("cdc_sync_destination_paused"):
        return False
    rows = json.loads(run.cli("destinations", "list", "--json") or "[]")
    paused = [row["name"] for row in rows if row["state"] == "paused"]
    for name in paused:
        run.needs_human.append(f"destinations resume {name}")
        run.cli("destinations", "resume", name)
    return bool(paused)


def _close(run: Run) -> None:
    """The phase's window up to what Debezium produced; short of the load's records is a finding."""
    bootstrap, topics, phase = run.rig.settings.kafka_bootstrap, run.rig.topics, run.phase
    records = phase.load.kafka_records(TOMBSTONES) + run.extra_records
    try:
        ends = wait_produced(bootstrap, topics, phase.window.starts, records)
    except SystemExit as exc:
        run.notes.append(str(exc))
        ends = end_offsets(bootstrap, topics)
    phase.window = phase.window.closed(ends)
    phase.ledger.window = phase.window


def _judge(run: Run, name: str, recover_s: float | None) -> Outcome:
    _close(run)
    rig, phase, load = run.rig, run.phase, run.phase.load
    acks, owed = phase.ledger.acks(), load.expected_acks()
    verdicts = {
        d: verdict(phase.ledger, d, acks[d], owed.get(d, 0), rig.base_url(d)) for d in rig.destinations
    }
    letters = dead_letter_reasons(rig.state, phase.ledger.first_letter)
    outcome = Outcome(name, load.changes, outbound_counts(owed, verdicts), letters, recover_s)
    outcome.needs_human = "; ".join(dict.fromkeys(run.needs_human))
    outcome.notes = run.notes + ([run.stream.error] if run.stream.error else [])
    outcome.error = run.stream.error
    outcome.figures = {**run.figures, **_figures(load, phase, verdicts)}
    return outcome


_LETTERS = text(
    "SELECT regexp_replace(left(reason, 120), '[0-9]+', 'N', 'g') AS reason, "
    "count(*) FILTER (WHERE payload->>'value_b64' IS NOT NULL) AS raw, count(*) AS n "
    "FROM cdc_sync.dead_letters WHERE id > :first GROUP BY 1 ORDER BY 3 DESC"
)


def dead_letter_reasons(state: Engine, first: int) -> dict[str, int]:
    """Dead letters since `first` by reason (numbers masked, so positions group), and how many
    of them keep the record's raw bytes."""
    with state.connect() as conn:
        rows = conn.execute(_LETTERS, {"first": first}).all()
    reasons = {str(reason): int(n) for reason, _, n in rows}
    raw = sum(int(r) for _, r, _ in rows)
    return {**reasons, "(with raw bytes)": raw} if raw else reasons


def _figures(load: MixedLoad, phase: Prepared, verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "mix": load.mix(),
        "kafka_records": phase.window.records,
        "failed_attempts": phase.ledger.failed_attempts(),
        "destinations": {d: {k: x for k, x in v.items() if k != "effects"} for d, v in verdicts.items()},
        "effects": {d: v["effects"] for d, v in verdicts.items()},
    }
