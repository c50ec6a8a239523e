"""The durable inbox: vendor events committed before the webhook is acknowledged.

Stored events wake the writer: every transaction that adds rows also NOTIFYs `INBOX_CHANNEL`
(delivered at commit, so a listener never looks before the rows are visible).
"""

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from cdc_sync.errors import ConfigError, RejectedEvent, StackUnavailable
from cdc_sync.model.inbound import InboundEvent, readable
from cdc_sync.model.storable import storable
from cdc_sync.model.writes import Status
from cdc_sync.store.db_errors import failure_of, reason_of
from cdc_sync.store.listen import listen_forever
from cdc_sync.store.sealed import sealed_json_text
from cdc_sync.store.tables import SCHEMA, inbox

__all__ = ["Status"]  # the inbox stores how each event ended


INBOX_CHANNEL = "cdc_sync_inbox"

# One statement for a whole batch; ORDER BY n keeps the ids (the writer's order) in receipt order.
_PUT_MANY = text(
    f"""
    INSERT INTO {SCHEMA}.inbox (source, event_id, kind, entity, occurred_at, data, priority)
    SELECT source, event_id, kind, entity, occurred_at, data, priority
    FROM unnest(
        CAST(:source AS text[]), CAST(:event_id AS text[]), CAST(:kind AS text[]),
        CAST(:entity AS text[]), CAST(:occurred_at AS timestamptz[]), CAST(:data AS jsonb[]),
        CAST(:priority AS smallint[])
    ) WITH ORDINALITY AS incoming(source, event_id, kind, entity, occurred_at, data, priority, n)
    ORDER BY n
    ON CONFLICT ON CONSTRAINT inbox_source_event_id DO NOTHING
    RETURNING source, event_id
    """
)
_NOTIFY = text("SELECT pg_notify(:channel, '')")


def put_many(engine: Engine, events: Sequence[InboundEvent]) -> list[tuple[str, str]]:
    """Store the events in one transaction (waking the writer if any is new); returns the
    (source, event id) of those that were new. StackUnavailable if the inbox cannot be written now,
    RejectedEvent if the database refuses what the events hold (then one of them cannot be stored)."""
    try:
        with engine.begin() as conn:
            return put_many_in(conn, events)
    except SQLAlchemyError as exc:
        if failure_of(exc) == "transient":
            raise StackUnavailable(f"inbox unavailable: {reason_of(exc)}") from exc
        raise RejectedEvent(f"the inbox cannot store this event: {reason_of(exc)}") from exc


def put_many_in(conn: Connection, events: Sequence[InboundEvent]) -> list[tuple[str, str]]:
    """`put_many` in the caller's transaction (the writer is woken at its commit)."""
    columns: dict[str, list[object]] = {
        "source": [e.source for e in events],
        "event_id": [e.event_id for e in events],
        "kind": [e.kind for e in events],
        "entity": [e.entity for e in events],
        "occurred_at": [e.occurred_at for e in events],
        "data": [sealed_json_text(inbox.c.data, e.model_dump(mode="json")["data"]) for e in events],
        "priority": [e.priority for e in events],
    }
    inserted = [(row[0], row[1]) for row in conn.execute(_PUT_MANY, columns)]
    if inserted:
        conn.execute(_NOTIFY, {"channel": INBOX_CHANNEL})
    return inserted


@dataclass(frozen=True)
class Claimed:
    inbox_id: int
    event: InboundEvent
    received_at: datetime  # when the webhook was committed to the inbox: inbound latency starts here


@dataclass(frozen=True)
class Finished:
    inbox_id: int
    status: Status
    result: str


@dataclass(frozen=True)
class Claims:
    """One batch of locked pending rows: the events, and the rows that are no event at all (left by an
    older version or written by hand), rejected as they are instead of failing every batch."""

    events: list[Claimed]
    unreadable: list[Finished]
    entities: set[str]

    @property
    def ids(self) -> list[int]:
        return [c.inbox_id for c in self.events] + [u.inbox_id for u in self.unreadable]


_EVENT_FIELDS = ("source", "event_id", "kind", "entity", "occurred_at", "data")


def claim_batch(conn: Connection, limit: int) -> Claims:
    """Lock the pending events no other writer holds, most urgent first, then in receipt order
    (caller's transaction). An urgent event still waits for an older one of its entity (the gate)."""
    statement = (
        select(inbox)
        .where(inbox.c.status == "pending")
        .order_by(inbox.c.priority, inbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claims = Claims([], [], set())
    for row in conn.execute(statement).mappings():
        claims.entities.add(row["entity"])
        try:
            event = InboundEvent.model_validate({name: row[name] for name in _EVENT_FIELDS})
        except ValidationError as exc:
            claims.unreadable.append(
                Finished(row["id"], "rejected", f"not an inbound event: {readable(exc)}")
            )
            continue
        claims.events.append(Claimed(row["id"], event, row["received_at"]))
    return claims


def pending_before(conn: Connection, claims: Claims) -> list[tuple[int, str]]:
    """(id, entity) of the pending events older than the newest claimed one that this batch does not
    hold (another writer has them): later events of those entities must wait their turn."""
    ids = claims.ids
    if not ids:
        return []
    statement = select(inbox.c.id, inbox.c.entity).where(
        inbox.c.status == "pending",
        inbox.c.id < max(ids),
        inbox.c.id.not_in(ids),
        inbox.c.entity.in_(claims.entities),
    )
    return [(row[0], row[1]) for row in conn.execute(statement)]


_FINISH_MANY = text(
    f"""
    UPDATE {SCHEMA}.inbox AS i
    SET status = f.status, result = f.result, processed_at = clock_timestamp()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:results AS text[]))
        AS f(id, status, result)
    WHERE i.id = f.id
    RETURNING i.processed_at
    """
)


def finish_many(conn: Connection, finished: Sequence[Finished]) -> datetime | None:
    """Mark the events done (in the caller's transaction, just before its commit); returns when, by
    the database's clock, the same clock that stamped their receipt."""
    if not finished:
        return None
    values = {
        "ids": [f.inbox_id for f in finished],
        "statuses": [f.status for f in finished],
        "results": [storable(f.result) for f in finished],  # a reason may quote anything
    }
    stamps: list[datetime] = list(conn.execute(_FINISH_MANY, values).scalars())
    return max(stamps)


_RELEASE = text(
    f"""
    UPDATE {SCHEMA}.inbox SET status = 'pending', processed_at = NULL
    WHERE status = :status AND entity = ANY(CAST(:entities AS text[]))
    RETURNING id
    """
)


def release(conn: Connection, status: Status, entities: Collection[str]) -> int:
    """Events of these entities that wait with `status` back to pending (in the caller's
    transaction), the writer woken for them; returns how many."""
    if not entities:
        return 0
    released = len(conn.execute(_RELEASE, {"status": status, "entities": sorted(entities)}).all())
    if released:
        conn.execute(_NOTIFY, {"channel": INBOX_CHANNEL})
    return released


def retry_waiting(conn: Connection, entities: Collection[str]) -> int:
    """Unmatched events of these entities back to pending: an event of the same object just
    applied, so what they were missing may be there now (a satisfaction rating that came before
    its ticket)."""
    return release(conn, "unmatched", entities)


async def wake_on_insert(engine: Engine, woken: asyncio.Event, retry_s: float = 1.0) -> None:
    """Set `woken` on every inbox NOTIFY, until cancelled; also once after each (re)connection,
    for what was stored meanwhile (the writer's slow poll covers the gap)."""
    await listen_forever(engine, INBOX_CHANNEL, lambda _: woken.set(), woken.set, retry_s)


# What an operator may send through the writer again: events it could not apply as they were.
REPLAYABLE = ("rejected", "unmatched", "ambiguous")
_LISTED = (
    inbox.c.id,
    inbox.c.received_at,
    inbox.c.source,
    inbox.c.event_id,
    inbox.c.kind,
    inbox.c.entity,
    inbox.c.status,
    inbox.c.result,
    inbox.c.processed_at,
)


def list_events(
    engine: Engine, statuses: Sequence[str], source: str | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """The newest events with one of `statuses` (all when empty), optionally of one source."""
    statement = select(*_LISTED).order_by(inbox.c.id.desc()).limit(limit)
    if statuses:
        statement = statement.where(inbox.c.status.in_(statuses))
    if source:
        statement = statement.where(inbox.c.source == source)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement).mappings()]


def get_event(engine: Engine, inbox_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(select(inbox).where(inbox.c.id == inbox_id)).mappings().one_or_none()
    if row is None:
        raise ConfigError(f"no inbox event {inbox_id}")
    return dict(row)


def requeue(conn: Connection, ids: Sequence[int] | None, source: str | None = None) -> list[int]:
    """Put rejected or unmatched events (`ids`, or all of them) back to pending, in the caller's
    transaction, and wake the writer; returns the ids requeued. Their handlers are idempotent
    (an event id takes effect once), so a replay changes only what the first attempt could not."""
    statement = (
        update(inbox)
        .where(inbox.c.status.in_(REPLAYABLE))
        .values(status="pending", processed_at=None)
        .returning(inbox.c.id)
    )
    if ids is not None:
        statement = statement.where(inbox.c.id.in_(ids))
    if source:
        statement = statement.where(inbox.c.source == source)
    requeued = sorted(int(row[0]) for row in conn.execute(statement))
    if requeued:
        conn.execute(_NOTIFY, {"channel": INBOX_CHANNEL})
    return requeued
