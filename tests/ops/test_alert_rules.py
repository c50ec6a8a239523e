"""ops/prometheus: the alert rules are valid, their unit tests pass, and they only use our metrics."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import cdc_sync.observability.metrics  # noqa: F401 (registers every cdc-sync metric)
from tests.ops.metric_names import (
    ALERT_TESTS,
    ALERTS,
    PROMETHEUS_CONFIG,
    ROOT,
    alert_rules,
    exposed_names,
    queried_names,
    rule_exprs,
)

# Where the runbook links point (README "Alerts" says how to change it for a copy of the project).
RUNBOOK_BASE = "https://github.com/cdc-sync/cdc-sync/blob/main/README.md"
RUNBOOKS = {
    "runbook-lag-growing",
    "runbook-destination-paused",
    "runbook-dlq-filling",
    "runbook-slot-lag",
    "runbook-slot-lost",
    "runbook-rewind-safely",
    "runbook-connector-not-running",
    "runbook-changes-not-consumed",
}
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def readme_anchors() -> set[str]:
    text = re.sub(r"^```.*?^```", "", (ROOT / "README.md").read_text(), flags=re.MULTILINE | re.DOTALL)
    return {anchor(heading) for heading in HEADING.findall(text)}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(tool).is_file():
        pytest.fail("promtool is missing: `ops/stack.sh install` installs it", pytrace=False)
    command = [tool, *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=ALERTS.parent
    )


def registered() -> set[str]:
    return exposed_names((family.name, family.type) for family in REGISTRY.collect())


def test_rules_are_valid() -> None:
    checked = promtool("check", "rules", ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prometheus_config_scrapes_run_and_serve_and_loads_the_rules() -> None:
    checked = promtool("check", "config", PROMETHEUS_CONFIG)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = PROMETHEUS_CONFIG.read_text()
    assert "127.0.0.1:9108" in config and "127.0.0.1:9109" in config and "alerts.yml" in config


def test_alerts_fire_on_the_series_of_their_unit_tests() -> None:
    tested = promtool("test", "rules", ALERT_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_use_only_metrics_cdc_sync_exports() -> None:
    exprs = rule_exprs()
    assert queried_names(exprs.values()), "no cdc_sync_ metric found in the rules"
    unknown = {name: sorted(queried_names([expr]) - registered()) for name, expr in exprs.items()}
    assert {name: missing for name, missing in unknown.items() if missing} == {}


def test_every_rule_says_how_severe_it_is_and_where_its_runbook_is() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert "runbook" not in annotations, rule["alert"]  # Alertmanager templates read runbook_url
        assert annotations["runbook_url"].startswith(f"{RUNBOOK_BASE}#runbook-"), rule["alert"]
    linked = {rule["annotations"]["runbook_url"].partition("#")[2] for rule in alert_rules()}
    assert linked >= RUNBOOKS


def test_every_runbook_link_lands_on_a_readme_heading() -> None:
    anchors = readme_anchors()
    assert {"runbook-lag-growing", "operator-runbook", "alerts"} <= anchors  # the slugs are GitHub's
    missing = {
        rule["alert"]: rule["annotations"]["runbook_url"]
        for rule in alert_rules()
        if rule["annotations"]["runbook_url"].partition("#")[2] not in anchors
    }
    assert missing == {}


def test_the_readme_lists_every_alert_with_its_runbook() -> None:
    section = (ROOT / "README.md").read_text().partition("\n## Alerts\n")[2].partition("\n## ")[0]
    for rule in alert_rules():
        line = next((line for line in section.splitlines() if f"`{rule['alert']}`" in line), "")
        runbook = rule["annotations"]["runbook_url"].partition("#")[2]
        assert f"(#{runbook})" in line, rule["alert"]


@pytest.mark.parametrize(
    "metric",
    [
        "cdc_sync_consumer_lag_messages",
        "cdc_sync_destination_paused",
        "cdc_sync_dead_letters_open",
        "cdc_sync_dead_letter_oldest_age_seconds",
        "cdc_sync_replication_slot_lag_bytes",
        "cdc_sync_end_to_end_latency_seconds_bucket",
        "cdc_sync_inbound_end_to_end_latency_seconds_bucket",
        "cdc_sync_api_errors_total",
        "cdc_sync_rate_limit_hits_total",
        "cdc_sync_webhook_signature_failures_total",
        "cdc_sync_contract_violations_total",
        "cdc_sync_retried_deliveries_total",
        "cdc_sync_reconcile_difference_ratio",
        "cdc_sync_alerts_total",
        "cdc_sync_connector_task_state",
        "cdc_sync_crm_rows_changed_total",
        "cdc_sync_events_total",
    ],
)
def test_an_alert_watches(metric: str) -> None:
    assert metric in queried_names(rule_exprs().values())
