"""Change events made from the CRM's rows as they are now, for `dlq replay --fresh` and
`reconcile --fix`: they go through the same pipeline (authority, mapping, delivery) as captured
changes.

A fresh event is a snapshot read (`op='r'`) positioned at the WAL position of the moment it was
read, so its idempotency keys differ from the stale change's: the vendor applies the current
state even if it already applied the old one. Its Kafka coordinates are -1: it was not consumed.
A row gone from the CRM becomes a delete carrying only its key.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, and_, select, text, tuple_

from cdc_sync.config import Owner
from cdc_sync.events import ChangeEvent, Row, SourcePosition
from cdc_sync.mapping.routes import Lookups
from cdc_sync.outbound.pipeline import EventPlan, Route, lookup_ids, plan_event
from cdc_sync.store.crm import fetch_lookups

_NOW = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS lsn, now() AS at")


def current_events(
    engine: Engine, table: str, keys: Sequence[Mapping[str, Any]], topic_prefix: str
) -> list[ChangeEvent]:
    """The current row of each key of `table` (schema-qualified), as snapshot-read events."""
    if not keys:
        return []
    schema, _, name = table.rpartition(".")
    with engine.connect() as conn:
        found = _rows(conn, Table(name, MetaData(schema=schema or None), autoload_with=conn), keys)
        lsn, at = conn.execute(_NOW).one()
    source = SourcePosition(
        topic=f"{topic_prefix}.{table}", partition=-1, offset=-1, lsn=int(lsn), tx_id=None, commit_ts=at
    )
    return [_event(table, dict(key), found.get(_identity(key)), source) for key in keys]


def _rows(conn: Connection, table: Table, keys: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Row]:
    columns = list(keys[0])
    wanted = [tuple(key[column] for column in columns) for key in keys]
    match = tuple_(*(table.c[column] for column in columns)).in_(wanted)
    rows = conn.execute(select(table).where(and_(match))).mappings()
    return {tuple(row[column] for column in columns): dict(row) for row in rows}


def _identity(key: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(key.values())


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
    return [plan_event(event, routes, _no_contract, authority, lookups) for event in events]


def _no_contract(event: ChangeEvent) -> None:
    return None
