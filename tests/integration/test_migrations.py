"""`cdc-sync db migrate` on a database made for the test: from empty to the newest revision, the
result exactly what the models describe; a database of the numbered steps is stamped, not redone."""

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Engine, create_engine, inspect, make_url, text

from cdc_sync.settings import Settings
from cdc_sync.store.migrate import head
from cdc_sync.store.tables import SCHEMA, metadata
from tests.integration.outbound_fixtures import CLI, ROOT


@pytest.fixture
def empty(settings: Settings) -> Iterator[URL]:
    """A new database owned by the migration role (the dev stack lets it create databases)."""
    owner = make_url(os.environ["CDC_SYNC_OWNER_DSN"])
    name = f"cdc_sync_migrate_{uuid.uuid4().hex[:8]}"
    server = create_engine(owner, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield owner.set(database=name)
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    server.dispose()


def db(url: URL, *args: str) -> subprocess.CompletedProcess[str]:
    dsn = url.render_as_string(hide_password=False)
    roles = {name: value for name, value in os.environ.items() if not name.endswith("_DSN")}
    env = {**roles, "CDC_SYNC_CRM_DSN": dsn, "CDC_SYNC_OWNER_DSN": dsn}  # one role: the owner
    return subprocess.run(
        [CLI, "db", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def drift(engine: Engine) -> list[Any]:
    def ours(name: str | None, kind: str, _: Any) -> bool:
        return kind != "schema" or name == SCHEMA

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_schemas": True, "include_name": ours, "version_table_schema": SCHEMA}
        )
        return list(compare_metadata(context, metadata))


def test_from_empty_the_schema_is_exactly_the_models(empty: URL) -> None:
    migrated = db(empty, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("applied migrations: ['0001'")  # the baseline first
    assert db(empty, "current").stdout.strip() == f"{head()} (head)"
    assert db(empty, "migrate").stdout.strip() == "schema is up to date"

    engine = create_engine(empty)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names(schema=SCHEMA))
        assert tables == {table.name for table in metadata.tables.values()} | {"alembic_version"}
        assert drift(engine) == []
        with engine.begin() as conn:  # the comparison is live: a missing index is drift
            conn.execute(text(f"DROP INDEX {SCHEMA}.alerts_at"))
        assert [change[0] for change in drift(engine)] == ["add_index"]
    finally:
        engine.dispose()


def test_a_database_of_the_numbered_steps_is_stamped_at_the_baseline(empty: URL) -> None:
    first = db(empty, "migrate")
    assert first.returncode == 0, first.stderr
    engine = create_engine(empty)
    try:
        with engine.begin() as conn:  # as the release before left it: its step table, no Alembic
            conn.execute(text(f"DROP TABLE {SCHEMA}.alembic_version"))
            conn.execute(text(f"CREATE TABLE {SCHEMA}.schema_migrations (version int PRIMARY KEY)"))
            conn.execute(text(f"INSERT INTO {SCHEMA}.schema_migrations SELECT * FROM generate_series(1, 12)"))
            conn.execute(text(f"INSERT INTO {SCHEMA}.schema_migrations VALUES (14)"))
            conn.execute(text(f"INSERT INTO {SCHEMA}.audit_log (actor, action) VALUES ('kept', 'x')"))
        stamped = db(empty, "migrate")
        assert stamped.returncode == 0, stamped.stderr
        assert db(empty, "current").stdout.strip() == f"{head()} (head)"
        with engine.connect() as conn:  # nothing was created again over it
            assert conn.execute(text(f"SELECT actor FROM {SCHEMA}.audit_log")).scalars().all() == ["kept"]
    finally:
        engine.dispose()


def test_steps_short_of_the_baseline_are_refused_with_the_way_forward(empty: URL) -> None:
    engine = create_engine(empty)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            conn.execute(text(f"CREATE TABLE {SCHEMA}.schema_migrations (version int PRIMARY KEY)"))
            conn.execute(text(f"INSERT INTO {SCHEMA}.schema_migrations SELECT * FROM generate_series(1, 9)"))
    finally:
        engine.dispose()
    refused = db(empty, "migrate")
    assert refused.returncode == 2
    assert "numbered steps up to 9: upgrade it with the release before" in refused.stderr
