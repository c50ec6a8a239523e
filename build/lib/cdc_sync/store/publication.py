"""The CRM database side of capture: publication membership, grants, signals, slot lag.

Runs with the DBA's role (`CDC_SYNC_CRM_ADMIN_DSN`), which owns the tables and the
publication, so the Debezium role itself needs only REPLICATION and SELECT.
"""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from cdc_sync.errors import ConfigError

# Always in the publication: Debezium reads signals and heartbeats from the change stream.
SERVICE_TABLES = ("public.debezium_signal", "public.debezium_heartbeat")


@dataclass(frozen=True)
class SlotLag:
    slot_name: str
    active: bool
    lag_bytes: int | None


def _quoted(qualified: str) -> str:
    schema, _, table = qualified.partition(".")
    return f'"{schema}"."{table}"'


def existing_tables(engine: Engine) -> list[str]:
    query = text(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def published_tables(engine: Engine, publication: str) -> list[str]:
    query = text("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = :p")
    with engine.connect() as conn:
        return sorted(conn.execute(query, {"p": publication}).scalars())


def publish(engine: Engine, publication: str, tables: Iterable[str], reader_role: str) -> None:
    """Make the publication hold exactly `tables` (plus the service tables); let the reader SELECT them."""
    captured = sorted(set(tables))
    members = ", ".join(_quoted(t) for t in sorted({*captured, *SERVICE_TABLES}))
    with engine.begin() as conn:
        conn.execute(text(f'ALTER PUBLICATION "{publication}" SET TABLE {members}'))
        if captured:
            grants = ", ".join(_quoted(t) for t in captured)
            conn.execute(text(f'GRANT SELECT ON {grants} TO "{reader_role}"'))


def signal_incremental_snapshot(engine: Engine, signal_table: str, tables: Iterable[str]) -> str:
    """Ask Debezium for an incremental snapshot of `tables`; returns the signal id."""
    signal_id = f"cdc-sync-{uuid.uuid4().hex[:24]}"
    data = json.dumps({"data-collections": sorted(tables), "type": "incremental"})
    with engine.begin() as conn:
        insert = (
            f"INSERT INTO {_quoted(signal_table)} (id, type, data) VALUES (:id, 'execute-snapshot', :data)"
        )
        conn.execute(
            text(insert),
            {"id": signal_id, "data": data},
        )
    return signal_id


def slot_lag(engine: Engine, slot_name: str) -> SlotLag | None:
    query = text(
        "SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
        "FROM pg_replication_slots WHERE slot_name = :s"
    )
    with engine.connect() as conn:
        row = conn.execute(query, {"s": slot_name}).one_or_none()
    return None if row is None else SlotLag(row[0], row[1], row[2])


def require_tables(engine: Engine, tables: Iterable[str]) -> None:
    missing = sorted(set(tables) - set(existing_tables(engine)))
    if missing:
        raise ConfigError(f"no such table in the CRM database: {', '.join(missing)}")


_TABLE_FACTS = text(
    """
    SELECT n.nspname || '.' || c.relname AS table, c.relreplident AS replica_identity,
      EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
      EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'sync_origin'
              AND NOT a.attisdropped) AS sync_origin,
      EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
              WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND p.proname = ANY(:triggers)) AS origin_trigger
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname || '.' || c.relname = ANY(:tables)
    ORDER BY 1
    """
)


def table_facts(
    engine: Engine, tables: Iterable[str], origin_triggers: Iterable[str]
) -> list[dict[str, object]]:
    """What onboarding checks of each table (admin.onboarding): keys, replica identity, origin."""
    values = {"tables": list(tables), "triggers": list(origin_triggers)}
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(_TABLE_FACTS, values).mappings()]


def run_statements(engine: Engine, statements: Iterable[str]) -> None:
    """DDL the DBA asked for (`connectors apply --prepare`), in one transaction."""
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
