"""Readings of backlog that lives in PostgreSQL: open dead letters and WAL held by replication slots,
and how many rows the CRM has changed in the tables cdc-sync consumes.

All read with the service roles: `pg_replication_slots`, `pg_current_wal_lsn()` and
`pg_stat_user_tables` need no extra privilege. Ages and lags are computed by the database, on its
own clock and LSNs.
"""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, Float, bindparam, cast, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from cdc_sync.store.tables import dead_letters


@dataclass(frozen=True)
class DeadLetterDepth:
    destination: str  # "" for letters of no destination (undecodable events)
    open: int
    oldest_age_s: float


# A physical slot has no confirmed_flush_lsn: what it still needs starts at restart_lsn.
_SLOT_LAG = text(
    """
    SELECT slot_name,
           (pg_current_wal_lsn() - coalesce(confirmed_flush_lsn, restart_lsn))::bigint AS lag_bytes
    FROM pg_replication_slots
    WHERE coalesce(confirmed_flush_lsn, restart_lsn) IS NOT NULL
    """
)

# Rows written by transactions since the statistics were last reset, counted when each transaction
# ends (rolled-back ones too): unlike WAL, neither Debezium's heartbeat nor cdc-sync's own tables
# nor other databases of the cluster move it.
_ROWS_CHANGED = text(
    """
    SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del
    FROM pg_stat_user_tables
    WHERE schemaname || '.' || relname IN :tables
    """
).bindparams(bindparam("tables", expanding=True))


def open_dead_letters(engine: Engine) -> list[DeadLetterDepth]:
    """Open dead letters per destination with the age of the oldest, in seconds."""
    destination = func.coalesce(dead_letters.c.destination, "")
    age = func.extract("epoch", func.clock_timestamp() - func.min(dead_letters.c.at))
    statement = (
        select(destination, func.count(), cast(age, Float))
        .where(dead_letters.c.status == "open")
        .group_by(destination)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return [DeadLetterDepth(name, int(count), max(float(oldest), 0.0)) for name, count, oldest in rows]


def slot_lag_bytes(engine: Engine) -> dict[str, int]:
    """WAL each replication slot keeps that its consumer has not confirmed, in bytes."""
    with engine.connect() as conn:
        rows = conn.execute(_SLOT_LAG).all()
    return {str(name): max(int(lag), 0) for name, lag in rows}


def rows_changed(engine: Engine, tables: Collection[str]) -> dict[str, int]:
    """Rows inserted, updated or deleted so far in each of these schema-qualified tables, by
    PostgreSQL's cumulative statistics (a table it does not know is left out)."""
    if not tables:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(_ROWS_CHANGED, {"tables": sorted(tables)}).all()
    return {str(table): int(count) for table, count in rows}


def slot_names(engine: Engine) -> set[str]:
    """The replication slots that exist now."""
    with engine.connect() as conn:
        names = conn.execute(text("SELECT slot_name FROM pg_replication_slots")).scalars()
        return {str(name) for name in names}


def unreachable(engine: Engine) -> str | None:
    """Why the state database cannot be used now, or None when it answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"state database unreachable ({type(getattr(exc, 'orig', None) or exc).__name__})"
    return None
