"""Schema migrations for `cdc_sync`: numbered steps, applied once, under an advisory lock."""

from collections.abc import Callable

from sqlalchemy import Connection, Engine, insert, select, text

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
    return applied
