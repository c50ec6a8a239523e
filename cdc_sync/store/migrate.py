"""Schema migrations for `cdc_sync` with Alembic (`store/migrations/`, a frozen history), applied
under an advisory lock by `cdc-sync db migrate` as the schema's owner, who then grants the
service roles their tables; every other command only checks the revision.

A database migrated by the numbered steps of earlier releases (`schema_migrations`, 1 to 14) is
exactly revision 0001: it is stamped, not migrated again.
"""

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from cdc_sync.errors import ConfigError
from cdc_sync.store.grants import apply_state_grants
from cdc_sync.store.tables import SCHEMA

# Alembic says "Context impl PostgresqlImpl" whenever the revision is read (every command): only
# its warnings reach the log; `db migrate` prints the revisions it applied itself.
logging.getLogger("alembic").setLevel(logging.WARNING)

_LOCK_ID = 0x0CDC5
_SCRIPTS = Path(__file__).with_name("migrations")
BASELINE = "0001"
_LEGACY_STEPS = {*range(1, 13), 14}  # the numbered steps revision 0001 froze (13 was never used)


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    found = _scripts().get_current_head()
    assert found is not None, "no revisions in store/migrations"
    return found


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table_schema": SCHEMA}).get_current_revision()


def history() -> list[tuple[str, str]]:
    """(revision, what it does), oldest first."""
    found = [(script.revision, (script.doc or "").splitlines()[0]) for script in _scripts().walk_revisions()]
    return found[::-1]


def migrate(engine: Engine) -> list[str]:
    """Bring the schema to the newest revision; returns the revisions applied now. Safe to run
    concurrently (the second waits, then finds nothing to do)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        _stamp_legacy(conn)
        before = current(conn)
        command.upgrade(_config(conn), "head")
        applied = [s.revision for s in _scripts().iterate_revisions(head(), before)]
        apply_state_grants(conn)
    return applied[::-1]


def _stamp_legacy(conn: Connection) -> None:
    if current(conn) is not None:
        return
    table = conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.schema_migrations"}).scalar()
    if table is None:
        return
    steps = set(conn.execute(text(f"SELECT version FROM {SCHEMA}.schema_migrations")).scalars())
    if steps != _LEGACY_STEPS:
        raise ConfigError(
            f"schema {SCHEMA} was migrated by numbered steps up to {max(steps, default=0)}: upgrade it with "
            "the release before Alembic first (its `db migrate` brings it to step 14)"
        )
    command.stamp(_config(conn), BASELINE)


def require_current(engine: Engine) -> None:
    """Refuse to start on a schema older than this cdc-sync's (migrations are DDL, the owner's
    `cdc-sync db migrate`). A revision this release does not know is a newer one: migrations
    only add, so the release before still runs on it."""
    try:
        with engine.connect() as conn:
            found = current(conn)
    except ProgrammingError:  # no schema, or no grant on it
        found = None
    known = {script.revision for script in _scripts().walk_revisions()}
    if found == head() or (found is not None and found not in known):
        return
    state = "missing" if found is None else f"at revision {found}"
    raise ConfigError(
        f"the cdc_sync schema is {state}, this cdc-sync needs {head()}: run `cdc-sync db migrate` "
        "with the schema owner's DSN (CDC_SYNC_OWNER_DSN)"
    )
