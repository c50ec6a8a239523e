"""The delivery ledger: every attempt, written in batches off the hot path; the sync log query."""

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.store.tables import deliveries


def position_columns(source: SourcePosition | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {
        "topic": source.topic,
        "kafka_partition": source.partition,
        "kafka_offset": source.offset,
        "lsn": source.lsn,
        "commit_ts": source.commit_ts,
    }


QUIET_OUTCOMES = frozenset({"ok", "superseded"})  # nothing went wrong: no error text
# The row of one attempt, in this column order (a tuple: thousands are written a second).
COLUMNS = (
    "at", "destination", "entity", "table_name", "operation", "idempotency_key", "attempt", "outcome",
    "status_code", "latency_ms", "error", "topic", "kafka_partition", "kafka_offset", "lsn", "commit_ts",
)  # fmt: skip
COPY = f"COPY {deliveries.schema}.{deliveries.name} ({', '.join(COLUMNS)}) FROM STDIN"
AttemptRow = tuple[Any, ...]


def attempt_row(delivery: Delivery, attempt: int, outcome: Outcome, action: str, at: datetime) -> AttemptRow:
    source = delivery.source
    return (
        at,
        delivery.destination,
        delivery.entity,
        delivery.table,
        delivery.operation,
        delivery.idempotency_key,
        attempt,
        action,
        outcome.status,
        round(outcome.latency_s * 1000, 3),
        None if action in QUIET_OUTCOMES else outcome.summary,
        source.topic,
        source.partition,
        source.offset,
        source.lsn,
        source.commit_ts,
    )


class LedgerWriter:
    """Collects attempt rows and writes them with one COPY per flush (thread-safe).

    What waits for its rows to be durable (an offset that may be stored only then) registers a
    callback with `when_durable`; callbacks run after the flush that wrote every row added before
    them. A failed flush keeps its rows (and callbacks) for the next one.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows: list[AttemptRow] = []
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time keeps rows in order

    def add(self, row: AttemptRow) -> None:
        with self._lock:
            self._rows.append(row)

    def when_durable(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def flush(self) -> int:
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
                callbacks, self._callbacks = self._callbacks, []
            try:
                if rows:
                    self._copy(rows)
            except Exception:
                with self._lock:
                    self._rows[:0] = rows
                    self._callbacks[:0] = callbacks
                raise
        for callback in callbacks:
            callback()
        return len(rows)

    def _copy(self, rows: list[AttemptRow]) -> None:
        # COPY, not INSERT: at thousands of attempts a second it costs a fraction of the CPU.
        connection = self._engine.raw_connection()
        try:
            with connection.cursor() as cursor, cursor.copy(COPY) as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            connection.commit()
        finally:
            connection.close()


@dataclass(frozen=True)
class LogQuery:
    entity: str | None = None
    destination: str | None = None
    since: datetime | None = None
    limit: int = 200


def sync_log(engine: Engine, query: LogQuery) -> list[dict[str, Any]]:
    """Delivery attempts, newest first, filtered by object, destination and time."""
    statement = select(deliveries).order_by(deliveries.c.at.desc(), deliveries.c.id.desc()).limit(query.limit)
    if query.entity:
        statement = statement.where(deliveries.c.entity == query.entity)
    if query.destination:
        statement = statement.where(deliveries.c.destination == query.destination)
    if query.since:
        statement = statement.where(deliveries.c.at >= query.since)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]


def acknowledged_later(engine: Engine, delivery: Delivery, operations: Collection[str]) -> bool:
    """Whether a later change of the object (one of `operations`) already reached the vendor."""
    c = deliveries.c
    if delivery.source.lsn is None:
        return False
    statement = select(c.id).where(
        c.entity == delivery.entity,
        c.destination == delivery.destination,
        c.operation.in_(list(operations)),
        c.outcome == "ok",
        c.lsn > delivery.source.lsn,
    )
    with engine.connect() as conn:
        return conn.execute(statement.limit(1)).first() is not None
