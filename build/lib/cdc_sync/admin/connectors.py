"""Onboarding tables: connector configs in `connectors/*.json` applied to Kafka Connect.

`apply` shows the diff against the live config, keeps the publication and the Debezium
role's grants in step with `table.include.list`, PUTs the config, waits for the task to run
with it, and asks for an incremental snapshot of tables that were not captured before, so
their existing rows arrive as `r` events while new changes stream.
"""

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cdc_sync.admin import onboarding
from cdc_sync.admin.connect_api import ConnectApi, ConnectorConfig
from cdc_sync.errors import ConfigError, StackUnavailable
from cdc_sync.store import publication

_SECRET_KEY = re.compile(r"password|secret|token|api\.key", re.IGNORECASE)
_REFERENCE = re.compile(r"^\$\{[^}]+\}$")


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    config: ConnectorConfig
    path: Path

    @property
    def include_list(self) -> list[str]:
        return include_list(self.config)

    @property
    def signal_table(self) -> str:
        return self.config.get("signal.data.collection", "public.debezium_signal")


@dataclass(frozen=True)
class ConfigChange:
    key: str
    old: str | None
    new: str | None

    def render(self) -> str:
        if self.old is None:
            return f"+ {self.key} = {_shown(self.key, self.new)}"
        if self.new is None:
            return f"- {self.key} = {_shown(self.key, self.old)}"
        return f"~ {self.key}: {_shown(self.key, self.old)} -> {_shown(self.key, self.new)}"


@dataclass(frozen=True)
class ApplyPlan:
    spec: ConnectorSpec
    exists: bool
    changes: list[ConfigChange]
    tables: list[str]
    new_tables: list[str] = field(default_factory=list)


def _shown(key: str, value: str | None) -> str:
    if value and _SECRET_KEY.search(key) and not _REFERENCE.match(value):
        return "****"
    return str(value)


def load_specs(path: Path) -> list[ConnectorSpec]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ConfigError(f"no connector configs (*.json) in {path}")
    return [_load_spec(file) for file in files]


def _load_spec(file: Path) -> ConnectorSpec:
    try:
        document = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{file}: cannot read connector config: {exc}") from exc
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("config"), dict)
        or "name" not in document
    ):
        raise ConfigError(f'{file}: expected {{"name": ..., "config": {{...}}}}')
    config = {str(key): str(value) for key, value in document["config"].items()}
    return ConnectorSpec(name=str(document["name"]), config=config, path=file)


def config_diff(live: ConnectorConfig | None, wanted: ConnectorConfig) -> list[ConfigChange]:
    live = {key: value for key, value in (live or {}).items() if key != "name"}
    keys = sorted(set(live) | set(wanted))
    return [
        ConfigChange(key, live.get(key), wanted.get(key)) for key in keys if live.get(key) != wanted.get(key)
    ]


def captured_tables(include_list: list[str], existing: list[str]) -> list[str]:
    """Tables matched by Debezium's include list (its entries are regular expressions)."""
    patterns = [re.compile(entry) for entry in include_list]
    service = set(publication.SERVICE_TABLES)
    return [table for table in existing if table not in service and any(p.fullmatch(table) for p in patterns)]


def plan_apply(spec: ConnectorSpec, live: ConnectorConfig | None, existing: list[str]) -> ApplyPlan:
    tables = captured_tables(spec.include_list, existing)
    before = captured_tables(include_list(live), existing) if live is not None else tables
    new_tables = [table for table in tables if table not in before]
    return ApplyPlan(spec, live is not None, config_diff(live, spec.config), tables, new_tables)


def include_list(config: ConnectorConfig) -> list[str]:
    """Debezium's `table.include.list`: comma-separated regular expressions."""
    raw = config.get("table.include.list", "")
    return [entry.strip() for entry in raw.split(",") if entry.strip()]


class Connectors:
    """The connector operations, composed over Kafka Connect and the CRM database."""

    def __init__(self, api: ConnectApi, admin: Engine, sleep: Callable[[float], None] = time.sleep) -> None:
        self._api = api
        self._admin = admin
        self._sleep = sleep

    def plan(self, spec: ConnectorSpec) -> ApplyPlan:
        return plan_apply(spec, self._api.config(spec.name), publication.existing_tables(self._admin))

    @property
    def api(self) -> ConnectApi:
        return self._api

    def problems(self, plan: ApplyPlan, context: onboarding.Context) -> list[onboarding.Problem]:
        """What the plan's captured tables still need (admin.onboarding), from the CRM's catalog."""
        found = publication.table_facts(self._admin, plan.tables, onboarding.ORIGIN_TRIGGERS)
        facts = [
            onboarding.TableFacts(
                str(row["table"]),
                bool(row["primary_key"]),
                str(row["replica_identity"]),
                bool(row["sync_origin"]),
                bool(row["origin_trigger"]),
            )
            for row in found
        ]
        return onboarding.problems(facts, context)

    def prepare(self, problems: list[onboarding.Problem]) -> list[str]:
        """Run the table changes `--prepare` may make, in one transaction; returns them."""
        statements = list(dict.fromkeys(sql for problem in problems for sql in problem.prepare))
        publication.run_statements(self._admin, statements)
        return statements

    def validate(self, spec: ConnectorSpec) -> list[str]:
        """Connect's (and Debezium's) own check of the config, before it is applied."""
        return self._api.validate({"name": spec.name, **spec.config})

    def apply(self, plan: ApplyPlan, timeout_s: float = 90.0) -> str | None:
        """Carry out a plan (refused while Connect's validation finds errors); returns the id of
        the snapshot signal sent for new tables, if any."""
        spec = plan.spec
        if plan.changes and (errors := self.validate(spec)):
            raise ConfigError(f"Kafka Connect refuses connector {spec.name}'s config: {'; '.join(errors)}")
        publication.publish(self._admin, _publication_name(spec), plan.tables, spec.config["database.user"])
        if plan.changes:
            self._api.put_config(spec.name, spec.config)
        self.wait_running(spec, timeout_s)
        if plan.exists and plan.new_tables:
            return publication.signal_incremental_snapshot(self._admin, spec.signal_table, plan.new_tables)
        return None

    def snapshot(self, spec: ConnectorSpec, tables: list[str]) -> str:
        captured = captured_tables(spec.include_list, publication.existing_tables(self._admin))
        unknown = sorted(set(tables) - set(captured))
        if unknown:
            raise ConfigError(
                f"not captured by connector {spec.name}: {', '.join(unknown)} (add to table.include.list)"
            )
        return publication.signal_incremental_snapshot(self._admin, spec.signal_table, tables)

    def status(self, spec: ConnectorSpec) -> dict[str, Any]:
        state = self._api.status(spec.name)
        lag = publication.slot_lag(self._admin, spec.config.get("slot.name", "debezium"))
        return {
            "name": spec.name,
            "state": (state or {}).get("connector", {}).get("state", "ABSENT"),
            "tasks": [
                {"id": t["id"], "state": t["state"], "trace": t.get("trace", "")[:300]}
                for t in (state or {}).get("tasks", [])
            ],
            "slot": None
            if lag is None
            else {"name": lag.slot_name, "active": lag.active, "lag_bytes": lag.lag_bytes},
        }

    def wait_running(self, spec: ConnectorSpec, timeout_s: float, settle_polls: int = 3) -> None:
        """Wait until the tasks run with this config, seen on `settle_polls` polls in a row.

        Connect updates task configs before it restarts the tasks, so one RUNNING reading may
        still be the old task; a signal sent to it would be ignored.
        """
        deadline = time.monotonic() + timeout_s
        streak = 0
        while time.monotonic() < deadline:
            streak = streak + 1 if self._running_with(spec) else 0
            if streak >= settle_polls:
                return
            self._sleep(1.0)
        raise StackUnavailable(
            f"connector {spec.name} not RUNNING with its new config after {timeout_s:.0f}s"
        )

    def _running_with(self, spec: ConnectorSpec) -> bool:
        status = self._api.status(spec.name) or {}
        tasks = status.get("tasks", [])
        for task in tasks:
            if task["state"] == "FAILED":
                raise StackUnavailable(
                    f"connector {spec.name} task {task['id']} FAILED: {task.get('trace', '')[:500]}"
                )
        running = status.get("connector", {}).get("state") == "RUNNING" and bool(tasks)
        return (
            running
            and all(t["state"] == "RUNNING" for t in tasks)
            and self._api.tasks_use(spec.name, spec.config)
        )


def _publication_name(spec: ConnectorSpec) -> str:
    return spec.config.get("publication.name", "dbz_publication")
