"""What the delivery report reads: ledger aggregates per time bucket and destination, pauses.

Percentiles are computed by PostgreSQL (`percentile_cont ... WITHIN GROUP`), one row per bucket
and destination plus one per destination for the whole window (GROUPING SETS), so the report
costs one scan of the window however big the ledger is. Nothing here selects an entity.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Engine,
    Executable,
    Table,
    Text,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import INTERVAL, TIMESTAMP, array

from cdc_sync.model.delivery import Action
from cdc_sync.store.tables import alerts, audit_log, dead_letters, deliveries, destination_state

# Buckets start at whole multiples of their width since this instant (as `date_bin` counts them).
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
QUANTILES = (0.5, 0.95, 0.99)
UNROUTED = "(unrouted)"  # dead letters rejected before a destination was chosen

PauseChange = Literal["pause", "resume"]


@dataclass(frozen=True)
class LedgerWindow:
    start: datetime
    end: datetime
    bucket: timedelta
    destination: str | None = None


@dataclass(frozen=True)
class LatencyRow:
    """Percentiles (p50, p95, p99) in ms; `bucket` None is the whole window."""

    bucket: datetime | None
    destination: str
    request_ms: tuple[float, ...] | None
    end_to_end_ms: tuple[float, ...] | None


@dataclass(frozen=True)
class OutcomeCount:
    bucket: datetime
    destination: str
    outcome: str
    status_code: int | None
    attempts: int


@dataclass(frozen=True)
class DeadLetterCount:
    bucket: datetime
    destination: str
    letters: int


@dataclass(frozen=True)
class PauseEvent:
    at: datetime
    destination: str
    change: PauseChange
    cause: str


@dataclass(frozen=True)
class LedgerRows:
    latency: list[LatencyRow]
    outcomes: list[OutcomeCount]
    dead_letters: list[DeadLetterCount]
    open_dead_letters: dict[str, int]
    pause_events: list[PauseEvent]


def fetch_ledger(engine: Engine, window: LedgerWindow) -> LedgerRows:
    with engine.connect() as conn:
        return LedgerRows(
            latency=[_latency_row(row) for row in conn.execute(_latency(window))],
            outcomes=[OutcomeCount(*row) for row in conn.execute(_outcomes(window))],
            dead_letters=[DeadLetterCount(*row) for row in conn.execute(_dead_letters(window))],
            open_dead_letters={name: count for name, count in conn.execute(_open_dead_letters(window))},
            pause_events=[PauseEvent(*row) for row in conn.execute(_pause_events(window))],
        )


def _bucket(at: ColumnElement[datetime], window: LedgerWindow) -> ColumnElement[datetime]:
    # One expression object in SELECT and GROUP BY: the same bind names, so PostgreSQL sees one.
    width = bindparam("bucket_width", window.bucket, type_=INTERVAL)
    origin = bindparam("bucket_origin", BUCKET_ORIGIN, type_=TIMESTAMP(timezone=True))
    return func.date_bin(width, at, origin, type_=TIMESTAMP(timezone=True))


def _in_window(table: Table, window: LedgerWindow) -> ColumnElement[bool]:
    return (table.c.at >= window.start) & (table.c.at < window.end)


def _latency(window: LedgerWindow) -> Executable:
    bucket = _bucket(deliveries.c.at, window).label("bucket")
    lag_ms = extract("epoch", deliveries.c.at - deliveries.c.commit_ts) * 1000
    # Changes consumed from Kafka only: fresh events (replay --fresh, reconcile --fix) were "committed"
    # when they were read, which would pull the commit → ack percentiles toward zero.
    acknowledged = (
        (deliveries.c.outcome == Action.OK.value)
        & deliveries.c.commit_ts.is_not(None)
        & (deliveries.c.kafka_offset >= 0)
    )
    statement = (
        select(
            bucket,
            deliveries.c.destination,
            func.percentile_cont(array(QUANTILES)).within_group(deliveries.c.latency_ms),
            func.percentile_cont(array(QUANTILES)).within_group(lag_ms).filter(acknowledged),
        )
        .where(_in_window(deliveries, window))
        .group_by(
            func.grouping_sets(tuple_(bucket, deliveries.c.destination), tuple_(deliveries.c.destination))
        )
    )
    if window.destination:
        statement = statement.where(deliveries.c.destination == window.destination)
    return statement


def _latency_row(row: Any) -> LatencyRow:
    bucket, destination, request, end_to_end = row
    return LatencyRow(
        bucket, destination, tuple(request) if request else None, tuple(end_to_end) if end_to_end else None
    )


def _outcomes(window: LedgerWindow) -> Executable:
    bucket = _bucket(deliveries.c.at, window).label("bucket")
    keys = (bucket, deliveries.c.destination, deliveries.c.outcome, deliveries.c.status_code)
    statement = select(*keys, func.count()).where(_in_window(deliveries, window)).group_by(*keys)
    if window.destination:
        statement = statement.where(deliveries.c.destination == window.destination)
    return statement


def _dead_letters(window: LedgerWindow) -> Executable:
    bucket = _bucket(dead_letters.c.at, window).label("bucket")
    destination = func.coalesce(dead_letters.c.destination, UNROUTED).label("destination")
    statement = select(bucket, destination, func.count()).where(_in_window(dead_letters, window))
    if window.destination:
        statement = statement.where(dead_letters.c.destination == window.destination)
    return statement.group_by(bucket, destination)


def _open_dead_letters(window: LedgerWindow) -> Executable:
    """Open now, whenever they arrived."""
    destination = func.coalesce(dead_letters.c.destination, UNROUTED).label("destination")
    statement = select(destination, func.count()).where(dead_letters.c.status == "open")
    if window.destination:
        statement = statement.where(dead_letters.c.destination == window.destination)
    return statement.group_by(destination)


def _pause_events(window: LedgerWindow) -> Executable:
    """Pauses and resumes in the window, plus each destination's last one before it."""
    events = _state_changes().subquery("events")
    if window.destination:
        events = select(events).where(events.c.destination == window.destination).subquery("filtered")
    in_window = select(events).where(events.c.at >= window.start, events.c.at < window.end)
    recency = func.row_number().over(partition_by=events.c.destination, order_by=events.c.at.desc())
    before = select(events, recency.label("recency")).where(events.c.at < window.start).subquery("before")
    last_before = select(before.c.at, before.c.destination, before.c.change, before.c.cause).where(
        before.c.recency == 1
    )
    merged = union_all(in_window, last_before).subquery("merged")
    return select(merged).order_by(merged.c.at)


def _state_changes() -> Any:
    prefix = "destination:"
    operator = (
        select(
            audit_log.c.at,
            func.substr(audit_log.c.object, len(prefix) + 1).label("destination"),
            case((audit_log.c.action == "destination.pause", "pause"), else_="resume").label("change"),
            literal("operator").label("cause"),
        )
        .where(audit_log.c.object.startswith(prefix))
        # A resume that halted during replay leaves the destination paused: not an end.
        .where(
            (audit_log.c.action == "destination.pause")
            | ((audit_log.c.action == "destination.resume") & (cast(audit_log.c.after, Text) == '"active"'))
        )
    )
    escalated = select(alerts.c.at, alerts.c.destination, literal("pause"), literal("escalation")).where(
        alerts.c.kind == "escalation", alerts.c.destination.is_not(None)
    )
    # Paused now: covers a pause that left no audit row or alert (set directly in the state table).
    paused_now = select(
        destination_state.c.changed_at, destination_state.c.name, literal("pause"), literal("paused state")
    ).where(destination_state.c.state == "paused")
    return union_all(operator, escalated, paused_now)
