"""The delivery ledger: every attempt, written in batches off the hot path; the sync log query."""

import threading
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.store.tables import deliveries, vendor_refs


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


@dataclass(frozen=True)
class VendorRef:
    """The vendor's id of a delivered object (`entity`), as its answer gave it."""

    system: str
    vendor_ref: str
    entity: str
    destination: str


_REF = pg_insert(vendor_refs)
_UPSERT_REFS = _REF.on_conflict_do_update(
    index_elements=[vendor_refs.c.system, vendor_refs.c.vendor_ref],
    set_={"entity": _REF.excluded.entity, "destination": _REF.excluded.destination, "at": func.now()},
)


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
        self._refs: dict[tuple[str, str], VendorRef] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time keeps rows in order

    def add(self, row: AttemptRow) -> None:
        with self._lock:
            self._rows.append(row)

    def add_ref(self, ref: VendorRef) -> None:
        with self._lock:
            self._refs[(ref.system, ref.vendor_ref)] = ref

    def when_durable(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def flush(self) -> int:
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
                refs, self._refs = self._refs, {}
                callbacks, self._callbacks = self._callbacks, []
            try:
                if rows or refs:
                    self._copy(rows, list(refs.values()))
            except Exception:
                with self._lock:
                    self._rows[:0] = rows
                    self._refs = {**refs, **self._refs}
                    self._callbacks[:0] = callbacks
                raise
        for callback in callbacks:
            callback()
        return len(rows)

    def _copy(self, rows: list[AttemptRow], refs: list[VendorRef]) -> None:
        # COPY, not INSERT: at thousands of attempts a second it costs a fraction of the CPU.
        with self._engine.begin() as conn:
            if rows:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(COPY) as copy:
                    for row in rows:
                        copy.write_row(row)
            if refs:
                conn.execute(_UPSERT_REFS, [asdict(ref) for ref in refs])


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
