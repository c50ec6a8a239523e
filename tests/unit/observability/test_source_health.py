"""The change source's health: a connector counts as running only with all its tasks RUNNING, and
a slot the config names that PostgreSQL no longer has reads 0."""

from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from cdc_sync.errors import StackUnavailable
from cdc_sync.observability.source_health import (
    TASK_STATES,
    SourceHealth,
    Watched,
    advanced,
    running,
    task_states,
)
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


def test_each_task_shows_1_for_its_state_and_0_for_the_others() -> None:
    states = task_states(status("RUNNING", "RUNNING", "FAILED"))
    assert {labels for labels, up in states.items() if up == 1} == {("0", "RUNNING"), ("1", "FAILED")}
    assert {state for task, state in states if task == "1"} == set(TASK_STATES)
    assert task_states(status("RUNNING", "DRAINING"))[("0", "DRAINING")] == 1  # a state added later
    assert task_states(None) == {}


def test_task_states_follow_connect_and_vanish_when_it_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "slot_names", lambda _: {"slot_t"})
    answers: list[Any] = [status("RUNNING", "RUNNING", "RUNNING", "RUNNING"), status("RUNNING", "FAILED")]
    answers.append(StackUnavailable("Kafka Connect: connection refused"))

    def status_of(name: str) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    watch = SourceHealth(cast(Engine, None), status_of, [Watched("c_t", "slot_t")])
    watch.refresh()
    assert gauge("cdc_sync_connector_task_state", connector="c_t", task="2", state="RUNNING") == 1
    watch.refresh()  # tasks.max lowered to 1, and that task FAILED
    assert gauge("cdc_sync_connector_task_state", connector="c_t", task="0", state="FAILED") == 1
    assert gauge("cdc_sync_connector_task_state", connector="c_t", task="0", state="RUNNING") == 0
    assert gauge("cdc_sync_connector_task_state", connector="c_t", task="2", state="RUNNING") is None
    watch.refresh()  # Connect unreachable: no task state is known (CdcSyncConnectorNotRunning says so)
    assert gauge("cdc_sync_connector_task_state", connector="c_t", task="0", state="FAILED") is None
    assert gauge("cdc_sync_connector_running", connector="c_t") == 0


def test_advanced_counts_what_moved_since_the_last_reading() -> None:
    assert advanced({"a": 10, "b": 5}, {"a": 13, "b": 5}) == {"a": 3, "b": 0}
    assert advanced({"a": 10}, {"a": 4}) == {"a": 4}  # statistics reset: 4 rows since
    assert advanced({}, {"a": 10}) == {}  # the first reading is where counting starts


def test_rows_the_crm_changes_count_from_0_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = [{"public.rows_a": 500}, {"public.rows_a": 507}, {"public.rows_a": 2}]
    monkeypatch.setattr(health, "rows_changed", lambda _, tables: readings.pop(0))
    watch = SourceHealth(cast(Engine, None), lambda _: None, [], ["public.rows_a", "public.rows_b"])
    assert gauge("cdc_sync_crm_rows_changed_total", table="public.rows_b") == 0  # shown from the start
    watch.refresh()
    assert gauge("cdc_sync_crm_rows_changed_total", table="public.rows_a") == 0
    watch.refresh()
    assert gauge("cdc_sync_crm_rows_changed_total", table="public.rows_a") == 7
    watch.refresh()
    assert gauge("cdc_sync_crm_rows_changed_total", table="public.rows_a") == 9
