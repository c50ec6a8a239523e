"""ops/grafana: the dashboard queries valid PromQL over cdc-sync metrics and shows what operators watch."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

import cdc_sync.observability.metrics  # noqa: F401 (registers every cdc-sync metric)
from tests.ops.metric_names import (
    METRIC,
    alert_rules,
    dashboard,
    dashboard_exprs,
    declared_in,
    exposed_names,
    panels,
    queried_names,
    rule_exprs,
)
from tests.ops.test_alert_rules import promtool

# Grafana's own variables and the dashboard's, as Prometheus would see them after substitution
# ("All" of a multi-value variable is its allValue).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "6h",
    "$__interval": "15s",
    "$destination": ".*",
    "$instance": ".*",
}
DATASOURCE = "${DS_PROMETHEUS}"
SELECTOR = re.compile(rf"({METRIC.pattern})(?:\{{([^}}]*)\}})?")
# Panel → the alert rules whose threshold it draws, and the value (as the rule writes it).
THRESHOLDS = {
    "Consumer lag per topic": {"CdcSyncConsumerLagGrowing": "1000"},
    "End-to-end latency per destination (CRM commit → vendor ack)": {
        "CdcSyncOutboundLatencyP95": "5",
        "CdcSyncOutboundLatencyP99": "10",
    },
    "Rate-limit hits (429) and retries": {"CdcSyncRateLimited": "0.1"},
    "Dead letter depth per destination": {"CdcSyncDeadLettersFilling": "100"},
    "Oldest open dead letter": {"CdcSyncDeadLetterOld": "3600"},
    "Replication slot lag": {"CdcSyncReplicationSlotLag": "1073741824"},
    "Reconciliation difference rate": {"CdcSyncReconcileDifferences": "0.001"},
    "End-to-end latency per source (webhook receipt → CRM commit)": {"CdcSyncInboundLatencyP99": "10"},
    "Retry success rate per destination": {"CdcSyncRetrySuccessLow": "0.95"},
}


def registered() -> set[str]:
    return exposed_names((family.name, family.type) for family in REGISTRY.collect())


def label_names(sample: str) -> tuple[str, ...]:
    """The labels of the metric a sample name belongs to (`_bucket`, `_total` included)."""
    collector = REGISTRY._names_to_collectors[sample]
    return tuple(getattr(collector, "_labelnames", ()))


def variables() -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard()["templating"]["list"]}


def test_every_queried_metric_is_registered() -> None:
    exprs = dashboard_exprs()
    assert exprs, "the dashboard has no queries"
    unknown = {title: sorted(queried_names([expr]) - registered()) for title, expr in exprs.items()}
    assert {title: missing for title, missing in unknown.items() if missing} == {}


def test_type_lines_of_the_exposition_name_what_the_registry_has() -> None:
    """The integration test reads names from `# TYPE` lines of /metrics; they must agree."""
    from_text = exposed_names(declared_in(generate_latest().decode()))
    assert {name for name in registered() if name.startswith("cdc_sync_")} <= from_text
    assert {"cdc_sync_deliveries_total", "cdc_sync_end_to_end_latency_seconds_bucket"} <= from_text


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    pattern = re.compile("|".join(map(re.escape, GRAFANA_VARIABLES)))
    rules = [
        {"record": f"dashboard:query_{index}", "expr": pattern.sub(lambda m: GRAFANA_VARIABLES[m[0]], expr)}
        for index, expr in enumerate(dashboard_exprs().values())
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_queries_use_the_datasource_variable() -> None:
    assert variables()["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables()["DS_PROMETHEUS"]["query"] == "prometheus"
    for panel in panels():
        for target in panel.get("targets", []):
            assert panel["datasource"]["uid"] == target["datasource"]["uid"] == DATASOURCE, panel["title"]


@pytest.mark.parametrize(
    "metric",
    [
        "cdc_sync_deliveries_total",  # outbound success rate
        "cdc_sync_end_to_end_latency_seconds_bucket",
        "cdc_sync_inbound_end_to_end_latency_seconds_bucket",
        "cdc_sync_inbound_events_total",
        "cdc_sync_api_errors_total",
        "cdc_sync_rate_limit_hits_total",
        "cdc_sync_retries_total",
        "cdc_sync_webhook_signature_failures_total",
        "cdc_sync_dead_letters_open",
        "cdc_sync_dead_letter_oldest_age_seconds",
        "cdc_sync_webhooks_total",  # dedupe rate
        "cdc_sync_reconcile_difference_ratio",
        "cdc_sync_consumer_lag_messages",
        "cdc_sync_destination_paused",
        "cdc_sync_contract_violations_total",
        "cdc_sync_unknown_enum_values_total",
        "cdc_sync_replication_slot_lag_bytes",
        "cdc_sync_connector_task_state",
        "cdc_sync_crm_rows_changed_total",
        "cdc_sync_events_total",
    ],
)
def test_the_dashboard_shows(metric: str) -> None:
    assert metric in queried_names(dashboard_exprs().values())


def test_latency_panels_show_p50_p95_p99() -> None:
    for metric in ("cdc_sync_end_to_end_latency_seconds", "cdc_sync_inbound_end_to_end_latency_seconds"):
        quantiles = {
            match
            for expr in dashboard_exprs().values()
            if f"{metric}_bucket" in expr
            for match in re.findall(r"histogram_quantile\((0\.\d+)", expr)
        }
        assert quantiles == {"0.5", "0.95", "0.99"}, metric


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels():
        box = panel["gridPos"]
        cells = {
            (x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & taken, panel["title"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        taken |= cells


@pytest.mark.parametrize("name", ["destination", "instance"])
def test_destination_and_instance_are_variables_of_every_value_or_some(name: str) -> None:
    variable = variables()[name]
    assert variable["type"] == "query" and variable["datasource"]["uid"] == DATASOURCE
    assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"
    listed = re.fullmatch(rf"label_values\(({METRIC.pattern}), {name}\)", variable["query"])
    assert listed is not None, variable["query"]
    assert listed[1] in registered() and name in (*label_names(listed[1]), "instance")


def test_every_query_filters_on_the_instance_and_the_destination_it_has() -> None:
    unscoped = []
    for title, expr in dashboard_exprs().items():
        for metric, matchers in SELECTOR.findall(expr):
            wanted = ['instance=~"$instance"']
            if "destination" in label_names(metric):
                wanted.append('destination=~"$destination"')
            unscoped += [f"{title}: {metric} lacks {w}" for w in wanted if w not in matchers]
    assert unscoped == []


@pytest.mark.parametrize("title", THRESHOLDS)
def test_threshold_lines_are_the_alert_thresholds(title: str) -> None:
    panel = next(panel for panel in panels() if panel["title"] == title)
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] in {"line", "dashed", "line+area", "dashed+area"}
    drawn = {step["value"] for step in defaults["thresholds"]["steps"]}
    for alert, value in THRESHOLDS[title].items():
        assert re.search(rf"[<>]=?\s*{re.escape(value)}(?![\d.])", rule_exprs()[alert]), alert
        assert float(value) in drawn, alert


def test_an_alert_list_shows_what_fires_and_waits_of_every_cdc_sync_rule() -> None:
    listed = [panel for panel in panels() if panel["type"] == "alertlist"]
    assert len(listed) == 1
    options = listed[0]["options"]
    assert options["stateFilter"]["firing"] and options["stateFilter"]["pending"]
    assert not options["dashboardAlerts"]  # Prometheus' rules, not only this dashboard's
    assert all(rule["alert"].startswith(options["alertName"]) for rule in alert_rules())
    assert listed[0]["gridPos"]["y"] <= 1  # the first thing one sees
