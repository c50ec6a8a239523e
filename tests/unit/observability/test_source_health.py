"""The change source's health: a connector counts as running only with all its tasks RUNNING, and
a slot the config names that PostgreSQL no longer has reads 0."""

from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from cdc_sync.errors import StackUnavailable
from cdc_sync.observability.source_health import SourceHealth, Watched, running
from cdc_sync.store import health


def status(connector: str, *tasks: str) -> dict[str, Any]:
    return {"connector": {"state": connector}, "tasks": [{"id": i, "state": s} for i, s in enumerate(tasks)]}


def test_only_a_connector_with_every_task_running_is_running() -> None:
    assert running(status("RUNNING", "RUNNING"))
    assert not running(status("RUNNING", "FAILED"))
    assert not running(status("RUNNING", "RUNNING", "UNASSIGNED"))
    assert not running(status("PAUSED", "RUNNING"))
    assert not running(status("RUNNING"))  # no task: nothing streams
    assert not running(None)  # no such connector


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_dropped_slot_and_an_unreachable_connect_read_0(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = {"slot_a", "slot_b"}
    monkeypatch.setattr(health, "slot_names", lambda _: set(slots))
    answers: dict[str, Any] = {"c_a": status("RUNNING", "RUNNING"), "c_b": status("RUNNING", "RUNNING")}

    def status_of(name: str) -> Any:
        answer = answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    watch = SourceHealth(cast(Engine, None), status_of, [Watched("c_a", "slot_a"), Watched("c_b", "slot_b")])
    watch.refresh()
    assert gauge("cdc_sync_replication_slot_present", slot="slot_b") == 1
    assert gauge("cdc_sync_connector_running", connector="c_b") == 1
    slots.discard("slot_b")
    answers["c_b"] = StackUnavailable("Kafka Connect: connection refused")
    watch.refresh()
    assert gauge("cdc_sync_replication_slot_present", slot="slot_b") == 0
    assert gauge("cdc_sync_connector_running", connector="c_b") == 0
    assert gauge("cdc_sync_replication_slot_present", slot="slot_a") == 1
    assert gauge("cdc_sync_connector_running", connector="c_a") == 1
