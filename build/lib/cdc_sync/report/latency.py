"""The delivery report, as data: ledger rows shaped into per-destination series and a summary.

Pure: rows and `now` in, a `Report` out; `report.html` draws it. Every series is aligned on one
grid of buckets (as `date_bin` cuts them), with gaps where a bucket had no deliveries.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cdc_sync.model.delivery import Action
from cdc_sync.store.report_queries import (
    BUCKET_ORIGIN,
    DeadLetterCount,
    LedgerRows,
    LedgerWindow,
    OutcomeCount,
    PauseEvent,
)

MAX_BUCKETS = 200
# Widths a bucket is widened to, so a long window still has at most MAX_BUCKETS.
NICE_WIDTHS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]

ErrorClass = Literal["4xx", "5xx", "timeout", "other"]
ERROR_CLASSES: tuple[ErrorClass, ...] = ("4xx", "5xx", "timeout", "other")
# By status class: a 2xx that is not `ok` came too late and was compensated as a timeout.
STATUS_CLASS_ERRORS: dict[int, ErrorClass] = {2: "timeout", 4: "4xx", 5: "5xx"}
RETRY_OUTCOMES = (Action.RETRY.value, Action.RETRY_AFTER.value)
OUTCOMES = (Action.RETRY.value, Action.RETRY_AFTER.value, Action.DEAD_LETTER.value)


@dataclass(frozen=True)
class Quantiles:
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class PauseInterval:
    destination: str
    start: datetime
    end: datetime
    cause: str
    ongoing: bool  # still paused when the window ends

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class DestinationSeries:
    """One value per bucket of `Report.buckets`; latency None where nothing was measured."""

    destination: str
    end_to_end_ms: list[Quantiles | None]
    request_ms: list[Quantiles | None]
    errors: dict[str, list[int]]  # by ErrorClass
    outcomes: dict[str, list[int]]
    dead_letters: list[int]


@dataclass(frozen=True)
class DestinationSummary:
    destination: str
    attempts: int
    acknowledged: int
    retries: int
    end_to_end_ms: Quantiles | None
    request_ms: Quantiles | None
    dead_letters: int
    open_dead_letters: int
    pauses: int
    paused: timedelta

    @property
    def success_rate(self) -> float | None:
        return self.acknowledged / self.attempts if self.attempts else None


@dataclass(frozen=True)
class Report:
    window: LedgerWindow
    requested_bucket: timedelta
    generated_at: datetime
    buckets: list[datetime]
    series: list[DestinationSeries]
    summaries: list[DestinationSummary]
    pauses: list[PauseInterval]

    @property
    def attempts(self) -> int:
        return sum(s.attempts for s in self.summaries)

    @property
    def empty(self) -> bool:
        return self.attempts == 0


def bucket_width(start: datetime, end: datetime, requested: timedelta) -> timedelta:
    """`requested`, or the narrowest nice width ≥ it that cuts the window into ≤ MAX_BUCKETS."""
    needed = (end - start) / MAX_BUCKETS
    if requested >= needed:
        return requested
    nice = next((w for w in NICE_WIDTHS if w >= needed and w >= requested), None)
    if nice is not None:
        return nice
    week = NICE_WIDTHS[-1]
    return week * -(-needed // week)


def bin_start(at: datetime, width: timedelta) -> datetime:
    """The bucket `at` falls in, exactly as PostgreSQL's `date_bin(width, at, BUCKET_ORIGIN)`."""
    return BUCKET_ORIGIN + width * ((at - BUCKET_ORIGIN) // width)


def bucket_grid(window: LedgerWindow) -> list[datetime]:
    first = bin_start(window.start, window.bucket)
    count = -(-(window.end - first) // window.bucket)
    return [first + window.bucket * i for i in range(count)]


def error_class(status_code: int | None) -> ErrorClass:
    """What kind of failure an attempt that was not `ok` met; no status means no response."""
    if status_code is None:
        return "timeout"
    return STATUS_CLASS_ERRORS.get(status_code // 100, "other")


def pause_intervals(events: Iterable[PauseEvent], start: datetime, end: datetime) -> list[PauseInterval]:
    """Spans from a pause to the next resume of the same destination, clipped to the window.

    Several pause signals for one pause (escalation alert, state row) open it once; a resume
    with nothing open (resuming an active destination) closes nothing.
    """
    opened: dict[str, tuple[datetime, str]] = {}
    closed: list[PauseInterval] = []
    for event in sorted(events, key=lambda e: e.at):
        if event.change == "pause":
            opened.setdefault(event.destination, (max(event.at, start), event.cause))
        elif event.destination in opened:
            since, cause = opened.pop(event.destination)
            if event.at > start:
                closed.append(PauseInterval(event.destination, since, min(event.at, end), cause, False))
    ongoing = [PauseInterval(name, since, end, cause, True) for name, (since, cause) in opened.items()]
    return sorted(closed + ongoing, key=lambda p: (p.start, p.destination))


def build_report(rows: LedgerRows, window: LedgerWindow, requested: timedelta, now: datetime) -> Report:
    grid = bucket_grid(window)
    pauses = pause_intervals(rows.pause_events, window.start, window.end)
    names = _destinations(rows, pauses)
    return Report(
        window=window,
        requested_bucket=requested,
        generated_at=now,
        buckets=grid,
        series=[_series(name, rows, grid) for name in names],
        summaries=[_summary(name, rows, pauses) for name in names],
        pauses=pauses,
    )


def _destinations(rows: LedgerRows, pauses: list[PauseInterval]) -> list[str]:
    found = {r.destination for r in rows.latency} | {r.destination for r in rows.outcomes}
    found |= {r.destination for r in rows.dead_letters} | {p.destination for p in pauses}
    return sorted(found | {name for name, count in rows.open_dead_letters.items() if count})


def _quantiles(values: tuple[float, ...] | None) -> Quantiles | None:
    return Quantiles(*values) if values else None


def _series(name: str, rows: LedgerRows, grid: list[datetime]) -> DestinationSeries:
    index = {bucket: i for i, bucket in enumerate(grid)}
    latency = [r for r in rows.latency if r.destination == name and r.bucket in index]
    end_to_end: list[Quantiles | None] = [None] * len(grid)
    request: list[Quantiles | None] = [None] * len(grid)
    for row in latency:
        assert row.bucket is not None
        end_to_end[index[row.bucket]] = _quantiles(row.end_to_end_ms)
        request[index[row.bucket]] = _quantiles(row.request_ms)
    outcomes = [r for r in rows.outcomes if r.destination == name and r.bucket in index]
    failed = [r for r in outcomes if r.outcome != Action.OK.value]
    return DestinationSeries(
        destination=name,
        end_to_end_ms=end_to_end,
        request_ms=request,
        errors={
            k: _counts(index, (r for r in failed if error_class(r.status_code) == k)) for k in ERROR_CLASSES
        },
        outcomes={k: _counts(index, (r for r in outcomes if r.outcome == k)) for k in OUTCOMES},
        dead_letters=_counts(index, (r for r in rows.dead_letters if r.destination == name)),
    )


def _counts(index: dict[datetime, int], rows: Iterable[OutcomeCount | DeadLetterCount]) -> list[int]:
    counts = [0] * len(index)
    for row in rows:
        if row.bucket in index:
            counts[index[row.bucket]] += row.attempts if isinstance(row, OutcomeCount) else row.letters
    return counts


def _summary(name: str, rows: LedgerRows, pauses: list[PauseInterval]) -> DestinationSummary:
    overall = next((r for r in rows.latency if r.destination == name and r.bucket is None), None)
    attempts = defaultdict[str, int](int)
    for row in rows.outcomes:
        if row.destination == name:
            attempts[row.outcome] += row.attempts
    own_pauses = [p for p in pauses if p.destination == name]
    return DestinationSummary(
        destination=name,
        attempts=sum(attempts.values()),
        acknowledged=attempts[Action.OK.value],
        retries=sum(attempts[k] for k in RETRY_OUTCOMES),
        end_to_end_ms=_quantiles(overall.end_to_end_ms) if overall else None,
        request_ms=_quantiles(overall.request_ms) if overall else None,
        dead_letters=sum(r.letters for r in rows.dead_letters if r.destination == name),
        open_dead_letters=rows.open_dead_letters.get(name, 0),
        pauses=len(own_pauses),
        paused=sum((p.duration for p in own_pauses), timedelta()),
    )


def summary_line(report: Report) -> str:
    start, end = f"{report.window.start:%Y-%m-%d %H:%M}", f"{report.window.end:%Y-%m-%d %H:%M}"
    if report.empty:
        return f"no deliveries between {start} and {end} UTC"
    window = f"{start} to {end} UTC"
    attempts = report.attempts
    acknowledged = sum(s.acknowledged for s in report.summaries)
    letters = sum(s.dead_letters for s in report.summaries)
    still_open = sum(s.open_dead_letters for s in report.summaries)
    return (
        f"{window}: {attempts} attempts to {len(report.summaries)} destinations, "
        f"{acknowledged / attempts:.1%} ok, {sum(s.retries for s in report.summaries)} retries, "
        f"{letters} dead letters ({still_open} open now), {len(report.pauses)} pauses"
    )


def summary_data(report: Report) -> dict[str, Any]:
    """The report's numbers, for `--json`."""
    return {
        "window": {
            "start": report.window.start.isoformat(),
            "end": report.window.end.isoformat(),
            "bucket_s": report.window.bucket.total_seconds(),
            "destination": report.window.destination,
        },
        "generated_at": report.generated_at.isoformat(),
        "attempts": report.attempts,
        "destinations": [_summary_data(s) for s in report.summaries],
        "pauses": [
            {
                "destination": p.destination,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "cause": p.cause,
                "ongoing": p.ongoing,
            }
            for p in report.pauses
        ],
    }


def _summary_data(summary: DestinationSummary) -> dict[str, Any]:
    def quantiles(q: Quantiles | None) -> dict[str, float] | None:
        return None if q is None else {"p50": q.p50, "p95": q.p95, "p99": q.p99}

    return {
        "destination": summary.destination,
        "attempts": summary.attempts,
        "acknowledged": summary.acknowledged,
        "success_rate": summary.success_rate,
        "retries": summary.retries,
        "end_to_end_ms": quantiles(summary.end_to_end_ms),
        "request_ms": quantiles(summary.request_ms),
        "dead_letters": summary.dead_letters,
        "open_dead_letters": summary.open_dead_letters,
        "pauses": summary.pauses,
        "paused_s": summary.paused.total_seconds(),
    }
