"""Whether changes can still arrive: each connector's state in Kafka Connect and the replication
slot its config names, as gauges on `cdc-sync run`'s /metrics, and how many rows the CRM changed
in the tables run consumes, to compare with the change events it did consume.

A dropped slot, a FAILED Debezium task or a stream that stopped anywhere between the CRM and
cdc-sync raises no error in cdc-sync: consumers simply see no more records. These series make it
an alert (`CdcSyncReplicationSlotMissing`, `CdcSyncConnectorNotRunning`,
`CdcSyncConnectorTaskFailed`, `CdcSyncChangesNotConsumed`) instead of a silence.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from cdc_sync.errors import CdcSyncError
from cdc_sync.observability import metrics
from cdc_sync.observability.metrics import Labels
from cdc_sync.store import health

REFRESH_S = 5.0  # with a 15 s scrape, a dropped slot alerts within 30 s
StatusOf = Callable[[str], Mapping[str, Any] | None]
Status = Mapping[str, Any] | None
# The states of a task in Kafka Connect's status API; each is shown (0 or 1) so a rule can test
# `== 1` and a dashboard can draw the state over time.
TASK_STATES = ("UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "RESTARTING", "STOPPED")


@dataclass(frozen=True)
class Watched:
    connector: str
    slot: str


def running(status: Status) -> bool:
    """A connector that exists, with at least one task, all RUNNING (Connect's status document)."""
    if status is None or not status.get("tasks"):
        return False
    states = [status.get("connector", {}).get("state"), *(task.get("state") for task in status["tasks"])]
    return all(state == "RUNNING" for state in states)


def task_states(status: Status) -> dict[Labels, float]:
    """(task id, state) → 1 for the state each task is in, 0 for its other states; nothing for a
    connector Connect does not know (or could not be asked about)."""
    readings: dict[Labels, float] = {}
    for task in (status or {}).get("tasks", []):
        current = str(task.get("state"))
        for state in dict.fromkeys((*TASK_STATES, current)):  # a state Connect adds later too
            readings[(str(task.get("id")), state)] = float(state == current)
    return readings


def advanced(before: Mapping[str, int], now: Mapping[str, int]) -> dict[str, int]:
    """How far each cumulative reading moved since `before`. One lower than before counts from 0
    (the statistics were reset); a table not read before counts nothing yet (its past is no news)."""
    return {
        table: count - before[table] if count >= before[table] else count
        for table, count in now.items()
        if table in before
    }


class SourceHealth:
    """Reads all three and sets the series; call `refresh` off the event loop (it queries)."""

    def __init__(
        self, engine: Engine, status_of: StatusOf, watched: Sequence[Watched], tables: Collection[str] = ()
    ) -> None:
        self._engine = engine
        self._status_of = status_of
        self._watched = tuple(watched)
        self._tables = tuple(sorted(tables))
        self._tasks: set[Labels] = set()
        self._rows: dict[str, int] = {}  # the last reading of each table
        for table in self._tables:  # at 0 from the start, so increase() sees the first change
            metrics.CRM_ROWS_CHANGED.labels(table)

    def refresh(self) -> None:
        present = health.slot_names(self._engine) if self._watched else set()
        tasks: dict[Labels, float] = {}
        for watched in self._watched:
            status = self._status(watched.connector)
            metrics.REPLICATION_SLOT_PRESENT.labels(watched.slot).set(float(watched.slot in present))
            metrics.CONNECTOR_RUNNING.labels(watched.connector).set(float(running(status)))
            tasks.update({(watched.connector, *labels): up for labels, up in task_states(status).items()})
        self._tasks = metrics.publish(metrics.CONNECTOR_TASK_STATE, tasks, self._tasks)
        self._count_rows()

    def _status(self, connector: str) -> Status:
        try:
            return self._status_of(connector)
        except CdcSyncError:  # Connect unreachable: nothing flows either, task states unknown
            return None

    def _count_rows(self) -> None:
        if not self._tables:
            return
        now = health.rows_changed(self._engine, self._tables)
        for table, rows in advanced(self._rows, now).items():
            metrics.CRM_ROWS_CHANGED.labels(table).inc(rows)
        self._rows.update(now)
