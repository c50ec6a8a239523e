"""The delivery ledger: every attempt, written in batches off the hot path; the sync log query."""

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from cdc_sync.delivery.model import Delivery, Outcome
from cdc_sync.events import SourcePosition
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


def attempt_row(
    delivery: Delivery, attempt: int, outcome: Outcome, action: str, at: datetime
) -> dict[str, Any]:
    return {
        "at": at,
        "destination": delivery.destination,
        "entity": delivery.entity,
        "table_name": delivery.table,
        "operation": delivery.operation,
        "idempotency_key": delivery.idempotency_key,
        "attempt": attempt,
        "outcome": action,
        "status_code": outcome.status,
        "latency_ms": round(outcome.latency_s * 1000, 3),
        "error": None if action == "ok" else outcome.summary,
        **position_columns(delivery.source),
    }


class LedgerWriter:
    """Collects attempt rows and inserts them in one statement per flush (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            with self._engine.begin() as conn:
                conn.execute(insert(deliveries), rows)
        return len(rows)


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
