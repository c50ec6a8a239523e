"""Onboarding a table by editing the connector JSON and applying it; schema changes mid-stream."""

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cdc_sync.admin.connectors import Connectors, ConnectorSpec, load_specs
from cdc_sync.outbound.registry import SchemaRegistry
from tests.integration.conftest import ROOT, Collect
from tests.integration.outbound_fixtures import CLI


@pytest.fixture(scope="module")
def original() -> ConnectorSpec:
    (spec,) = load_specs(ROOT / "connectors")
    return spec


@pytest.fixture(scope="module")
def table(
    crm: Engine, connectors: Connectors, original: ConnectorSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new table with rows, then added to table.include.list in a copy of the JSON and applied."""
    name = f"onboard_{uuid.uuid4().hex[:8]}"
    with crm.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id serial PRIMARY KEY, label text NOT NULL)"))
        conn.execute(text(f"INSERT INTO {name} (label) VALUES ('one'), ('two'), ('three')"))
    edited = dict(original.config)
    edited["table.include.list"] += f",public.{name}"
    path: Path = tmp_path_factory.mktemp("connectors") / "crm-postgres.json"
    path.write_text(json.dumps({"name": original.name, "config": edited}))
    (spec,) = load_specs(path)

    plan = connectors.plan(spec)
    assert plan.new_tables == [f"public.{name}"]
    assert [change.key for change in plan.changes] == ["table.include.list"]
    assert connectors.apply(plan) is not None, "an incremental snapshot is requested for the new table"
    yield name
    connectors.apply(connectors.plan(replace(original)))
    with crm.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))


def test_existing_rows_are_snapshotted_then_new_changes_stream(
    crm: Engine, table: str, collect: Collect
) -> None:
    topic = f"crm.public.{table}"
    snapshot = collect(topic, lambda e: e.op == "r", 3)
    assert sorted(e.row["label"] for e in snapshot) == ["one", "three", "two"]
    assert all(e.source.snapshot for e in snapshot)

    with crm.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (label) VALUES ('four')"))
    (created,) = collect(topic, lambda e: e.op == "c", 1)
    assert created.after == {"id": 4, "label": "four"}


def test_added_column_registers_a_new_schema_version(
    crm: Engine, table: str, collect: Collect, registry: SchemaRegistry
) -> None:
    topic = f"crm.public.{table}"
    with crm.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (label) VALUES ('before-alter')"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN score numeric(6, 2)"))
    with crm.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (label, score) VALUES ('after-alter', 12.34)"))

    before, after = collect(topic, lambda e: e.row["label"] in ("before-alter", "after-alter"), 2)
    assert "score" not in before.row
    assert str(after.row["score"]) == "12.34"
    assert after.schema_id != before.schema_id
    assert len(registry.versions(f"{topic}-value")) >= 2


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "connectors", "apply", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_table_onboarded_from_nothing_is_checked_prepared_and_streams_with_its_origin(
    crm: Engine, connectors: Connectors, original: ConnectorSpec, collect: Collect, tmp_path: Path
) -> None:
    """The README's steps: a plain table, the JSON edited, `apply --dry-run` names what is missing,
    `apply --prepare` fixes the table and applies; a vendor's write then carries its origin."""
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    with crm.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id serial PRIMARY KEY, label text NOT NULL)"))
    edited = {
        **original.config,
        "table.include.list": original.config["table.include.list"] + f",public.{name}",
    }
    path = tmp_path / "crm-postgres.json"
    path.write_text(json.dumps({"name": original.name, "config": edited}))
    try:
        dry = cli(str(path), "--dry-run")
        assert dry.returncode == 2, dry.stdout + dry.stderr
        lines = [line.strip() for line in dry.stdout.splitlines() if f"public.{name}:" in line]
        assert [line.split(": ", 1)[1].split(" — ")[0] for line in lines] == [
            "replica identity is DEFAULT, not FULL",
            "no sync_origin column",
            "no destination gets it",  # a lookup table: no contract needed
        ]
        assert "Connect validates the config" in dry.stdout and "would refuse" in dry.stderr

        applied = cli(str(path), "--prepare")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "prepared: 4 table change(s)" in applied.stdout and "applied; RUNNING" in applied.stdout
        with crm.begin() as conn:
            conn.execute(text("SET LOCAL cdc_sync.origin = 'helpdesk'"))  # as the inbound writer does
            conn.execute(text(f"INSERT INTO {name} (label) VALUES ('from the helpdesk')"))
        (created,) = collect(f"crm.public.{name}", lambda e: e.op == "c", 1)
        assert created.after == {"id": 1, "label": "from the helpdesk", "sync_origin": "helpdesk"}
    finally:
        connectors.apply(connectors.plan(replace(original)))
        with crm.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
