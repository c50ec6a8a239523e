"""Dead letters: events or deliveries that cannot go through as they are, with the reason.

A letter is `open` until an operator replays it (`replayed`) or gives it up (`discarded`);
`resolution` keeps what happened then, and the audit log keeps every replay attempt.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, true, update

from cdc_sync.errors import CdcSyncError
from cdc_sync.events import SourcePosition
from cdc_sync.store.ledger import position_columns
from cdc_sync.store.tables import audit_log, dead_letters, deliveries

LetterStatus = Literal["open", "replayed", "discarded"]
STATUSES: dict[str, LetterStatus] = {"open": "open", "replayed": "replayed", "discarded": "discarded"}
LETTER_ACTIONS = ("dlq.replay", "dlq.discard")


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    source: SourcePosition | None
    table: str | None = None
    entity: str | None = None
    destination: str | None = None
    payload: Any = None
    response: Any = None
    idempotency_key: str | None = None


def add_dead_letter(engine: Engine, letter: DeadLetter) -> int:
    values = {
        "reason": letter.reason,
        "table_name": letter.table,
        "entity": letter.entity,
        "destination": letter.destination,
        "payload": letter.payload,
        "response": letter.response,
        "idempotency_key": letter.idempotency_key,
        **position_columns(letter.source),
    }
    with engine.begin() as conn:
        return int(
            conn.execute(insert(dead_letters).values(values).returning(dead_letters.c.id)).scalar_one()
        )


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter as stored, with where it came from and how it was resolved."""

    id: int
    at: datetime
    destination: str | None
    entity: str | None
    table: str | None
    reason: str
    payload: Any
    response: Any
    idempotency_key: str | None
    status: str  # a LetterStatus, or whatever else a person wrote there (never taken as open)
    topic: str | None
    partition: int | None
    offset: int | None
    lsn: int | None
    commit_ts: datetime | None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: Any = None

    @property
    def audit_object(self) -> str:
        """The object its audit records name: the entity, or the letter itself if it has none."""
        return self.entity or f"dead_letter:{self.id}"


@dataclass(frozen=True)
class LetterQuery:
    destination: str | None = None
    reason: str | None = None  # substring, case-insensitive
    since: datetime | None = None
    status: LetterStatus | None = "open"  # None: every status
    limit: int = 100
    entity: str | None = None  # contact:42


def _stored(row: Any) -> StoredLetter:
    return StoredLetter(
        id=row.id,
        at=row.at,
        destination=row.destination,
        entity=row.entity,
        table=row.table_name,
        reason=row.reason,
        payload=row.payload,
        response=row.response,
        idempotency_key=row.idempotency_key,
        status=row.status,
        topic=row.topic,
        partition=row.kafka_partition,
        offset=row.kafka_offset,
        lsn=row.lsn,
        commit_ts=row.commit_ts,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
    )


def list_letters(engine: Engine, query: LetterQuery) -> list[StoredLetter]:
    """Letters matching the query, newest first."""
    c = dead_letters.c
    statement = select(dead_letters).order_by(c.id.desc()).limit(query.limit)
    if query.destination:
        statement = statement.where(c.destination == query.destination)
    if query.entity:
        statement = statement.where(c.entity == query.entity)
    if query.reason:
        statement = statement.where(c.reason.icontains(query.reason, autoescape=True))
    if query.since:
        statement = statement.where(c.at >= query.since)
    if query.status:
        statement = statement.where(c.status == query.status)
    with engine.connect() as conn:
        return [_stored(row) for row in conn.execute(statement)]


def open_letters(engine: Engine, destination: str | None = None) -> list[StoredLetter]:
    """Every open letter (of one destination), oldest first: the order they are replayed in."""
    statement = select(dead_letters).where(dead_letters.c.status == "open").order_by(dead_letters.c.id)
    if destination:
        statement = statement.where(dead_letters.c.destination == destination)
    with engine.connect() as conn:
        return [_stored(row) for row in conn.execute(statement)]


def get_letter(engine: Engine, letter_id: int) -> StoredLetter:
    with engine.connect() as conn:
        row = conn.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).one_or_none()
    if row is None:
        raise CdcSyncError(f"no dead letter {letter_id}")
    return _stored(row)


def mark_letter(
    conn: Connection, letter_id: int, status: LetterStatus, actor: str, resolution: dict[str, Any]
) -> bool:
    """Resolve an open letter (in the caller's transaction); False if it was no longer open."""
    statement = (
        update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.status == "open")
        .values(status=status, resolved_at=func.now(), resolved_by=actor, resolution=resolution)
    )
    return conn.execute(statement).rowcount == 1


def letter_attempts(engine: Engine, sent: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Ledger rows of these (entity, idempotency key) pairs, oldest first (the entity uses its index)."""
    if not sent:
        return []
    c = deliveries.c
    match = or_(*(and_(c.entity == entity, c.idempotency_key == key) for entity, key in sorted(set(sent))))
    statement = select(deliveries).where(match).order_by(c.at, c.id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]


def letter_history(engine: Engine, letter: StoredLetter) -> list[dict[str, Any]]:
    """The audit records of replays and discards of this letter, oldest first."""
    c = audit_log.c
    statement = (
        select(c.id, c.at, c.actor, c.action, c.before, c.after, c.details)
        .where(
            c.object == letter.audit_object,
            c.action.in_(LETTER_ACTIONS),
            c.details["letter"].as_integer() == letter.id,
        )
        .order_by(c.at, c.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]


def older_open_letters(engine: Engine, letter: StoredLetter) -> list[int]:
    """Open letters of the same entity and an overlapping destination from before this one's change
    (none for a letter of no known entity: poison records are not ordered against each other)."""
    if letter.entity is None:
        return []
    c = dead_letters.c
    lane = (
        true()
        if letter.destination is None
        else or_(c.destination.is_(None), c.destination == letter.destination)
    )
    earlier = (
        c.id < letter.id
        if letter.lsn is None
        else or_(c.lsn < letter.lsn, and_(c.lsn == letter.lsn, c.id < letter.id))
    )
    statement = (
        select(c.id).where(c.status == "open", c.entity == letter.entity, lane, earlier).order_by(c.id)
    )
    with engine.connect() as conn:
        return [int(found) for found in conn.execute(statement).scalars()]
