"""Connector config planning: diffs, captured tables, what gets snapshotted."""

import json
from pathlib import Path

import httpx
import pytest

from cdc_sync.admin.connect_api import ConnectApi
from cdc_sync.admin.connectors import ConnectorSpec, captured_tables, config_diff, load_specs, plan_apply
from cdc_sync.errors import ConfigError

ROOT = Path(__file__).parents[3]
EXISTING = [
    "public.contacts",
    "public.debezium_heartbeat",
    "public.debezium_signal",
    "public.tags",
    "sales.deals",
]


def spec(**config: str) -> ConnectorSpec:
    return ConnectorSpec(name="crm", config={"database.user": "debezium", **config}, path=Path("crm.json"))


def test_repo_connector_config_loads() -> None:
    (crm,) = load_specs(ROOT / "connectors")
    assert crm.name == "crm-postgres"
    assert crm.config["plugin.name"] == "pgoutput"
    assert "public.contacts" in crm.include_list
    assert crm.signal_table == "public.debezium_signal"


def test_bad_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read connector config"):
        load_specs(tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(ConfigError, match="expected"):
        load_specs(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no connector configs"):
        load_specs(empty)


def test_diff_reports_added_removed_changed_and_hides_literal_secrets() -> None:
    changes = config_diff(
        {"name": "crm", "a": "1", "b": "2", "database.password": "old"},
        {"a": "1", "b": "3", "c": "4", "database.password": "hunter2"},
    )
    rendered = [change.render() for change in changes]
    assert rendered == ["~ b: 2 -> 3", "+ c = 4", "~ database.password: **** -> ****"]


def test_env_references_are_shown_since_they_hold_no_secret() -> None:
    (change,) = config_diff(None, {"database.password": "${env:PW}"})
    assert change.render() == "+ database.password = ${env:PW}"


def test_include_list_entries_are_regexes_and_service_tables_are_excluded() -> None:
    assert captured_tables(["public\\..*"], EXISTING) == ["public.contacts", "public.tags"]
    assert captured_tables(["public.contacts", "sales.deals", "public.debezium_signal"], EXISTING) == [
        "public.contacts",
        "sales.deals",
    ]


def test_plan_snapshots_only_tables_new_to_an_existing_connector() -> None:
    wanted = spec(**{"table.include.list": "public.contacts,public.tags"})
    update = plan_apply(wanted, {"table.include.list": "public.contacts"}, EXISTING)
    assert update.exists and update.new_tables == ["public.tags"]
    create = plan_apply(wanted, None, EXISTING)
    assert not create.exists and create.new_tables == []  # a new connector's initial snapshot covers them
    same = plan_apply(wanted, dict(wanted.config), EXISTING)
    assert same.changes == [] and same.new_tables == []


def test_connect_api_translates_refusals_into_config_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"message": "not found"})
        return httpx.Response(400, json={"message": "Connector configuration is invalid"})

    api = ConnectApi(
        "http://connect", httpx.Client(base_url="http://connect", transport=httpx.MockTransport(handler))
    )
    assert api.config("crm") is None
    with pytest.raises(ConfigError, match="Connector configuration is invalid"):
        api.put_config("crm", {"a": "b"})


def test_connect_api_waits_out_a_worker_rebalance() -> None:
    answers = [
        httpx.Response(500, json={"message": "Request cannot be completed because a rebalance is expected"}),
        httpx.Response(
            409, json={"message": "Cannot complete request momentarily due to stale configuration"}
        ),
        httpx.Response(200, json={"connector.class": "x"}),
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    client = httpx.Client(base_url="http://connect", transport=transport)
    api = ConnectApi("http://connect", client, sleep=lambda _: None)
    with pytest.raises(ConfigError, match="stale configuration"):
        api.config("crm")  # a 409 that is not about a rebalance is not retried
    assert answers[0].status_code == 200
