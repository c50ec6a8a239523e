"""Change events made from the CRM's rows as they are now, for `dlq replay --fresh` and
`reconcile --fix`: they go through the same pipeline (authority, mapping, delivery) as captured
changes.

A fresh event is a snapshot read (`op='r'`) positioned at the WAL position of the moment it was
read, so its idempotency keys differ from the stale change's: the vendor applies the current
state even if it already applied the old one. Its Kafka coordinates are -1: it was not consumed.
A row gone from the CRM becomes a delete carrying only its key.
"""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, and_, select, text, tuple_
from sqlalchemy.exc import NoSuchTableError

from cdc_sync.errors import RejectedEvent
from cdc_sync.events import ChangeEvent, Row, SourcePosition
from cdc_sync.model.config import Owner
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.pipeline import EventPlan, Route, lookup_ids, plan_event
from cdc_sync.store.crm import fetch_lookups

_NOW = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS lsn, now() AS at")


def current_events(
    engine: Engine, table: str, keys: Sequence[Mapping[str, Any]], topic_prefix: str
) -> list[ChangeEvent]:
    """The current row of each key of `table` (schema-qualified), as snapshot-read events."""
    if not keys:
        return []
    with engine.connect() as conn:
        found = _rows(conn, crm_table(engine, table), keys)
        lsn, at = conn.execute(_NOW).one()
    source = SourcePosition(
        topic=f"{topic_prefix}.{table}", partition=-1, offset=-1, lsn=int(lsn), tx_id=None, commit_ts=at
    )
    return [_event(table, dict(key), found.get(_identity(key)), source) for key in keys]


@functools.cache
def crm_table(engine: Engine, table: str) -> Table:
    """A CRM table (schema-qualified name) as the catalog describes it, read once per process
    (a replay or a fix asks often)."""
    schema, _, name = table.rpartition(".")
    try:
        return Table(name, MetaData(schema=schema or None), autoload_with=engine)
    except NoSuchTableError:
        raise RejectedEvent(f"table {table} is not in the CRM") from None


def _rows(conn: Connection, table: Table, keys: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Row]:
    wanted = [_identity(key) for key in keys]
    match = tuple_(*(table.c[column] for column in sorted(keys[0]))).in_(wanted)
    rows = conn.execute(select(table).where(and_(match))).mappings()
    return {_identity({column: row[column] for column in keys[0]}): dict(row) for row in rows}


def _identity(key: Mapping[str, Any]) -> tuple[Any, ...]:
    """A key's values in column-name order, whatever order the key was written in."""
    return tuple(key[column] for column in sorted(key))


def _event(table: str, key: Row, row: Row | None, source: SourcePosition) -> ChangeEvent:
    if row is None:
        return ChangeEvent(op="d", table=table, key=key, before=key, after=None, source=source, schema_id=0)
    return ChangeEvent(op="r", table=table, key=key, before=None, after=row, source=source, schema_id=0)


def plan_fresh(
    engine: Engine,
    events: Sequence[ChangeEvent],
    routes: Mapping[str, list[Route]],
    authority: Mapping[str, Owner],
) -> list[EventPlan]:
    """Plans for fresh events: rows read from the CRM itself carry no Avro contract to check."""
    contact_ids, tag_ids = lookup_ids(list(events), routes)
    lookups: Lookups = fetch_lookups(engine, contact_ids, tag_ids)
    return [plan_event(event, routes, no_contract_check, authority, lookups) for event in events]


def no_contract_check(event: ChangeEvent) -> None:
    """For events whose contract cannot be checked: rows read from the CRM, stored dead letters."""
