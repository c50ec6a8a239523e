"""Metric names the dashboard and the alert rules query, and the names a process exposes.

Shared by the unit tests (against the in-process registry) and the integration test (against
the live /metrics of `cdc-sync run` and `cdc-sync serve`).
"""

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
ALERTS = ROOT / "ops" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "ops" / "prometheus" / "alerts.test.yml"
PROMETHEUS_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "cdc-sync-dashboard.json"

METRIC = re.compile(r"(?<![\w:])cdc_sync_\w+")
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
# The samples a metric family of each type exposes (prometheus-client text format).
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def rule_exprs() -> dict[str, str]:
    return {rule.get("alert") or rule["record"]: rule["expr"] for rule in alert_rules()}


def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text())
    assert isinstance(document, dict)
    return document


def panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def dashboard_exprs() -> dict[str, str]:
    """Every query of the dashboard, keyed by panel title and refId."""
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in panels()
        for target in panel.get("targets", [])
    }


def names_in(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def queried_names(exprs: Iterable[str]) -> set[str]:
    return {name for expr in exprs for name in names_in(expr)}


def sample_names(name: str, kind: str) -> set[str]:
    """What a family declared as `# TYPE name kind` exposes (counters may be declared with or
    without their _total suffix)."""
    base = name.removesuffix("_total") if kind == "counter" else name
    return {base + suffix for suffix in SAMPLE_SUFFIXES.get(kind, ("",))}


def exposed_names(families: Iterable[tuple[str, str]]) -> set[str]:
    return {sample for name, kind in families for sample in sample_names(name, kind)}


def declared_in(exposition: str) -> list[tuple[str, str]]:
    """(name, type) of every `# TYPE` line: present for labelled metrics before their first sample."""
    return TYPE_LINE.findall(exposition)
