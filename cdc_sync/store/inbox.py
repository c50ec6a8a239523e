"""The durable inbox: vendor events committed before the webhook is acknowledged."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from cdc_sync.errors import StackUnavailable
from cdc_sync.inbound.payloads import InboundEvent
from cdc_sync.store.tables import inbox

Status = Literal["pending", "done", "conflict", "unmatched", "refused", "rejected"]


def put(engine: Engine, event: InboundEvent) -> bool:
    """Store the event; False if this source already delivered this event id (nothing changes)."""
    values = event.model_dump(mode="json")
    values["occurred_at"] = event.occurred_at
    statement = (
        pg_insert(inbox)
        .values(**values)
        .on_conflict_do_nothing(constraint="inbox_source_event_id")
        .returning(inbox.c.id)
    )
    try:
        with engine.begin() as conn:
            return conn.execute(statement).scalar_one_or_none() is not None
    except OperationalError as exc:
        raise StackUnavailable(f"inbox unavailable: {exc.orig}") from exc


def pending_ids(engine: Engine, limit: int) -> list[int]:
    statement = select(inbox.c.id).where(inbox.c.status == "pending").order_by(inbox.c.id).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(statement).scalars())


@dataclass(frozen=True)
class Claimed:
    event: InboundEvent
    received_at: datetime  # when the webhook was committed to the inbox: inbound latency starts here


def claim(conn: Connection, inbox_id: int) -> Claimed | None:
    """Lock one pending event inside the caller's transaction (None if another writer has it)."""
    statement = (
        select(inbox)
        .where(inbox.c.id == inbox_id, inbox.c.status == "pending")
        .with_for_update(skip_locked=True)
    )
    row = conn.execute(statement).mappings().one_or_none()
    if row is None:
        return None
    fields = {name: row[name] for name in ("source", "event_id", "kind", "entity", "occurred_at", "data")}
    return Claimed(InboundEvent.model_validate(fields), row["received_at"])


def finish(conn: Connection, inbox_id: int, status: Status, result: str) -> datetime:
    """Mark the event done (in the caller's transaction); returns when, by the database's clock,
    the same clock that stamped its receipt."""
    statement = (
        update(inbox)
        .where(inbox.c.id == inbox_id)
        .values(status=status, result=result, processed_at=func.clock_timestamp())
        .returning(inbox.c.processed_at)
    )
    finished: datetime = conn.execute(statement).scalar_one()
    return finished
