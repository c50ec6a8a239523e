"""Where cdc-sync's own tables keep a person's data, and the SQL of data-subject requests: export
those rows, erase them (delete, or scrub a tombstone's text), the work of the person still in
flight, and the request rows (`privacy_requests`) that make an erasure resumable.

A row is the person's when it names their entity (`contact:<id>`, `email:<address>`) or quotes
their address in one of its text or JSON columns. The audit log is never changed (it is
append-only): `audit_rows_quoting` lists the entries that quote the address, for the record.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    Text,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import (
    alerts,
    audit_log,
    conflicts,
    dead_letters,
    deliveries,
    held_deliveries,
    inbox,
    incidents,
    merge_reviews,
    privacy_requests,
    vendor_refs,
)

SCRUBBED = "[erased: personal data]"
_WAITING_EVENTS = ("pending", "unmatched", "ambiguous")


@dataclass(frozen=True)
class Traces:
    """How the person shows in cdc-sync's tables."""

    contact_id: int
    address: str | None  # the e-mail, lower-cased, when known

    @property
    def entities(self) -> tuple[str, ...]:
        email = (f"email:{self.address}",) if self.address else ()
        return (f"contact:{self.contact_id}", *email)


@dataclass(frozen=True)
class Place:
    """One table that may hold the person: the column naming an entity, the columns that may quote
    the address, and what erasure does (delete the row, or keep it with `scrub` written over)."""

    table: Table
    entity: str | None
    texts: tuple[str, ...]
    scrub: Mapping[str, Any] = field(default_factory=dict)  # empty: delete the row

    def rows_of(self, traces: Traces) -> ColumnElement[bool]:
        columns = self.table.c
        found: list[ColumnElement[bool]] = []
        if self.entity:
            found.append(columns[self.entity].in_(traces.entities))
        if traces.address:
            found.extend(_quotes(columns[name], traces.address) for name in self.texts)
        if self.table is conflicts:
            found.append(and_(conflicts.c.table_name == "contacts", conflicts.c.row_id == traces.contact_id))
        return or_(false(), *found)


def _quotes(column: Column[Any], address: str) -> ColumnElement[bool]:
    escaped = address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, Text).ilike(f"%{escaped}%", escape="\\")


# Payload-carrying work rows go; the ledger and operational records stay as tombstones.
PLACES: tuple[Place, ...] = (
    Place(inbox, "entity", ("data", "result")),
    Place(dead_letters, "entity", ("payload", "response", "reason", "resolution")),
    Place(held_deliveries, "entity", ("delivery",)),
    Place(conflicts, None, ("crm_value", "vendor_value", "details")),
    Place(merge_reviews, "match_key", ()),
    Place(vendor_refs, "entity", ()),
    Place(deliveries, "entity", ("error",), {"error": None}),
    Place(alerts, None, ("message", "details"), {"message": SCRUBBED, "details": None}),
    Place(incidents, None, ("summary", "details"), {"summary": SCRUBBED, "details": None}),
)
AUDIT = Place(audit_log, "object", ("before", "after", "details"))


def _rows(conn: Connection, place: Place, traces: Traces) -> list[dict[str, Any]]:
    statement = select(place.table).where(place.rows_of(traces))
    return [dict(row._mapping) for row in conn.execute(statement)]


def held_rows(engine: Engine, traces: Traces) -> dict[str, list[dict[str, Any]]]:
    """Every row of cdc-sync's tables that is the person's, by table (audit log included)."""
    with engine.connect() as conn:
        found = {place.table.name: _rows(conn, place, traces) for place in (*PLACES, AUDIT)}
        requests = select(privacy_requests).where(privacy_requests.c.entity == traces.entities[0])
        found[privacy_requests.name] = [dict(row._mapping) for row in conn.execute(requests)]
    return found


def erase_rows(conn: Connection, traces: Traces) -> dict[str, int]:
    """Delete or scrub the person's rows (the caller's transaction): how many, by table."""
    erased: dict[str, int] = {}
    for place in PLACES:
        where = place.rows_of(traces)
        statement = update(place.table).where(where).values(**place.scrub) if place.scrub else None
        result = conn.execute(statement if statement is not None else delete(place.table).where(where))
        erased[place.table.name] = result.rowcount
    return erased


def audit_rows_quoting(engine: Engine, traces: Traces) -> list[int]:
    """Ids of audit entries that quote the address (the audit log is not changed by erasure)."""
    if not traces.address:
        return []
    statement = select(audit_log.c.id).where(
        or_(*(_quotes(audit_log.c[n], traces.address) for n in AUDIT.texts))
    )
    with engine.connect() as conn:
        return list(conn.execute(statement.order_by(audit_log.c.id)).scalars())


def in_flight(engine: Engine, traces: Traces, kind: str) -> dict[str, int]:
    """The person's work not yet delivered or decided, by kind (`privacy.requests.IN_FLIGHT`)."""
    contact = traces.entities[0]
    counts = {
        "held": select(func.count()).where(held_deliveries.c.entity == contact),
        "dead_letters": select(func.count()).where(
            dead_letters.c.entity == contact, dead_letters.c.status == "open"
        ),
        "inbox": select(func.count()).where(
            inbox.c.entity.in_(traces.entities), inbox.c.status.in_(_WAITING_EVENTS)
        ),
        "conflicts": select(func.count()).where(
            conflicts.c.table_name == "contacts",
            conflicts.c.row_id == traces.contact_id,
            conflicts.c.status == "open",
        ),
        "merges": select(func.count()).where(
            merge_reviews.c.match_key.in_(traces.entities), merge_reviews.c.status == "open"
        ),
        "requests": select(func.count()).where(
            privacy_requests.c.entity == contact,
            privacy_requests.c.status == "open",
            privacy_requests.c.kind != kind,
        ),
    }
    with engine.connect() as conn:
        return {name: int(conn.execute(query).scalar_one()) for name, query in counts.items()}


def refs_of(engine: Engine, entity: str, system: str) -> tuple[str, ...]:
    """The vendor's own ids of the entity (`vendor_refs`)."""
    statement = select(vendor_refs.c.vendor_ref).where(
        vendor_refs.c.entity == entity, vendor_refs.c.system == system
    )
    with engine.connect() as conn:
        return tuple(sorted(conn.execute(statement).scalars()))


@dataclass(frozen=True)
class Request:
    id: int
    steps: dict[str, dict[str, Any]]


def open_request(engine: Engine, kind: Literal["erase", "correct"], entity: str, actor: str) -> Request:
    """The unfinished request of this kind for the entity, or a new one (its steps so far)."""
    t = privacy_requests.c
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"privacy:{entity}"})
        found = conn.execute(
            select(t.id, t.steps).where(t.kind == kind, t.entity == entity, t.status == "open")
        ).first()
        if found is not None:
            return Request(int(found.id), dict(found.steps or {}))
        values = {"kind": kind, "entity": entity, "requested_by": actor, "steps": {}}
        created = conn.execute(insert(privacy_requests).values(**values).returning(t.id)).scalar_one()
    return Request(int(created), {})


def record_step(conn: Connection, request: int, steps: Mapping[str, Any]) -> None:
    """The request's steps as they stand (the caller's transaction)."""
    conn.execute(
        update(privacy_requests)
        .where(privacy_requests.c.id == request)
        .values(steps=dict(steps), updated_at=func.now())
    )


def finish(conn: Connection, request: int) -> None:
    conn.execute(
        update(privacy_requests)
        .where(privacy_requests.c.id == request)
        .values(status="done", finished_at=func.now(), updated_at=func.now())
    )


def audit_request(conn: Connection, actor: str, kind: str, entity: str, details: dict[str, Any]) -> None:
    """`privacy.<kind>` for the entity: outcomes only, never the person's data."""
    audit_in(conn, actor, f"privacy.{kind}", entity, None, None, details)


def crm_contact(engine: Engine, contact_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM contacts WHERE id = :id"), {"id": contact_id}).first()
    return None if row is None else dict(row._mapping)


def correct_contact(conn: Connection, contact_id: int, values: Mapping[str, str | None]) -> int:
    """Update the CRM row as the CRM itself does (no `cdc_sync.origin`: every destination gets it).
    Column names come from `privacy.requests.CORRECTABLE`, never from the operator unchecked."""
    columns = sorted(values)
    assignments = ", ".join(f"{column} = :v{n}" for n, column in enumerate(columns))
    params = {f"v{n}": values[column] for n, column in enumerate(columns)}
    statement = text(f"UPDATE contacts SET {assignments} WHERE id = :id")  # names checked above
    return conn.execute(statement, {**params, "id": contact_id}).rowcount
