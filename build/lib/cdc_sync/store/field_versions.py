"""When the newest vendor event applied to each CRM field happened (SQL only, caller's transaction).

Callers hold the CRM row's lock (`SELECT ... FOR UPDATE`) while they read and record, so two
writers never decide on the same field at once.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, text

from cdc_sync.store.tables import SCHEMA, field_versions

# Never moves a field's time backwards, whatever order the writes commit in.
_RECORD = text(
    f"""
    INSERT INTO {SCHEMA}.field_versions (table_name, row_key, field, occurred_at, source, event_id)
    SELECT :table, :key, field, :at, :source, :event_id FROM unnest(CAST(:fields AS text[])) AS f(field)
    ON CONFLICT (table_name, row_key, field) DO UPDATE
    SET occurred_at = excluded.occurred_at, source = excluded.source, event_id = excluded.event_id,
        applied_at = now()
    WHERE field_versions.occurred_at <= excluded.occurred_at
    """
)


def applied_times(conn: Connection, table: str, key: str, fields: Sequence[str]) -> dict[str, datetime]:
    """field → the time of the newest vendor event applied to it (fields never written are absent)."""
    if not fields:
        return {}
    statement = select(field_versions.c.field, field_versions.c.occurred_at).where(
        field_versions.c.table_name == table,
        field_versions.c.row_key == key,
        field_versions.c.field.in_(list(fields)),
    )
    return {row[0]: row[1] for row in conn.execute(statement)}


def record_applied(
    conn: Connection, table: str, key: str, fields: Sequence[str], at: datetime, source: str, event_id: str
) -> None:
    if fields:
        values = {"table": table, "key": key, "fields": list(fields), "at": at}
        conn.execute(_RECORD, {**values, "source": source, "event_id": event_id})
