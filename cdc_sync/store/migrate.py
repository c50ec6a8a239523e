"""Schema migrations for `cdc_sync`: numbered steps, applied once, under an advisory lock, by
`cdc-sync db migrate` as the schema's owner; every other command only checks the version."""

from collections.abc import Callable

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import ProgrammingError

from cdc_sync.errors import ConfigError
from cdc_sync.store.grants import apply_state_grants
from cdc_sync.store.tables import (
    SCHEMA,
    backfill_cursors,
    conflicts,
    console_sessions,
    field_versions,
    inbox,
    merge_reviews,
    metadata,
    operators,
    privacy_requests,
    schema_migrations,
    vendor_refs,
)

_LOCK_ID = 0x0CDC5


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _v2_inbound(conn: Connection) -> None:
    inbox.create(conn, checkfirst=True)
    conflicts.create(conn, checkfirst=True)


def _v3_dead_letter_resolution(conn: Connection) -> None:
    # Databases created since v3 already have the columns from v1's create_all: IF NOT EXISTS.
    conn.execute(
        text(
            f"ALTER TABLE {SCHEMA}.dead_letters "
            "ADD COLUMN IF NOT EXISTS resolved_at timestamptz, "
            "ADD COLUMN IF NOT EXISTS resolved_by text, "
            "ADD COLUMN IF NOT EXISTS resolution jsonb"
        )
    )


def _v4_field_versions(conn: Connection) -> None:
    field_versions.create(conn, checkfirst=True)


def _v5_inbox_priority(conn: Connection) -> None:
    conn.execute(
        text(f"ALTER TABLE {SCHEMA}.inbox ADD COLUMN IF NOT EXISTS priority smallint NOT NULL DEFAULT 1")
    )
    conn.execute(
        text(f"CREATE INDEX IF NOT EXISTS inbox_pending_priority ON {SCHEMA}.inbox (status, priority, id)")
    )


def _v6_vendor_refs(conn: Connection) -> None:
    vendor_refs.create(conn, checkfirst=True)
    # Unmatched events are retried when an event of the same entity applies (store.inbox).
    conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS inbox_unmatched_entity ON {SCHEMA}.inbox (entity) "
            "WHERE status = 'unmatched'"
        )
    )


def _v7_merge_reviews(conn: Connection) -> None:
    merge_reviews.create(conn, checkfirst=True)


def _v8_rollout(conn: Connection) -> None:
    conn.execute(
        text(f"ALTER TABLE {SCHEMA}.destination_state ADD COLUMN IF NOT EXISTS rollout double precision")
    )


def _v9_correction_conflicts(conn: Connection) -> None:
    conn.execute(
        text(
            f"ALTER TABLE {SCHEMA}.conflicts ADD COLUMN IF NOT EXISTS kind text NOT NULL "
            "DEFAULT 'vendor_write', ADD COLUMN IF NOT EXISTS details jsonb"
        )
    )


def _v10_backfill_cursors(conn: Connection) -> None:
    backfill_cursors.create(conn, checkfirst=True)


def _v11_console(conn: Connection) -> None:
    operators.create(conn, checkfirst=True)
    console_sessions.create(conn, checkfirst=True)


# Audit rows go only through this, oldest first and older than a day, by the retention rule: the
# service roles may append to the log, never change it (store.grants).
_PRUNE_AUDIT = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.prune_audit(cutoff timestamptz, batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE gone integer;
BEGIN
  IF cutoff > now() - interval '1 day' THEN
    RAISE EXCEPTION 'audit rows are kept at least a day (cutoff %)', cutoff;
  END IF;
  DELETE FROM {SCHEMA}.audit_log WHERE id IN (
    SELECT id FROM {SCHEMA}.audit_log WHERE at < cutoff ORDER BY id LIMIT batch);
  GET DIAGNOSTICS gone = ROW_COUNT;
  RETURN gone;
END $$
"""


def _v12_audit_chain(conn: Connection) -> None:
    # Databases created since v12 have the columns from v1's create_all: IF NOT EXISTS.
    conn.execute(
        text(
            f"ALTER TABLE {SCHEMA}.audit_log ADD COLUMN IF NOT EXISTS prev_hash text, "
            "ADD COLUMN IF NOT EXISTS hash text"
        )
    )
    conn.execute(text(_PRUNE_AUDIT))


def _v14_privacy_requests(conn: Connection) -> None:
    privacy_requests.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _v1_initial),
    (2, _v2_inbound),
    (3, _v3_dead_letter_resolution),
    (4, _v4_field_versions),
    (5, _v5_inbox_priority),
    (6, _v6_vendor_refs),
    (7, _v7_merge_reviews),
    (8, _v8_rollout),
    (9, _v9_correction_conflicts),
    (10, _v10_backfill_cursors),
    (11, _v11_console),
    (12, _v12_audit_chain),
    (14, _v14_privacy_requests),
]


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations; returns the versions applied now. Safe to run concurrently."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        schema_migrations.create(conn, checkfirst=True)
        done = set(conn.execute(select(schema_migrations.c.version)).scalars())
        applied = []
        for version, step in MIGRATIONS:
            if version not in done:
                step(conn)
                conn.execute(insert(schema_migrations).values(version=version))
                applied.append(version)
        apply_state_grants(conn)
    return applied


def require_current(engine: Engine) -> None:
    """Refuse to start on a schema missing a migration of this cdc-sync's: migrations are DDL, run
    by the owner's `cdc-sync db migrate`, not by every command with a service role. (A newer
    schema is fine: migrations only add, so the release before still runs on it.)"""
    try:
        with engine.connect() as conn:
            applied = set(conn.execute(select(schema_migrations.c.version)).scalars())
    except ProgrammingError:  # no schema, no table, or no grant on it
        applied = set()
    missing = sorted({version for version, _ in MIGRATIONS} - applied)
    if missing:
        found = f"without migrations {missing}" if applied else "missing"
        raise ConfigError(
            f"the cdc_sync schema is {found}: run `cdc-sync db migrate` with the schema owner's DSN "
            "(CDC_SYNC_OWNER_DSN)"
        )
