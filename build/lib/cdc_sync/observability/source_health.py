"""Whether changes can still arrive: each connector's state in Kafka Connect and the replication
slot its config names, as gauges on `cdc-sync run`'s /metrics.

A dropped slot or a FAILED Debezium task stops the stream without an error anywhere in cdc-sync:
consumers simply see no more records. These gauges make it an alert
(`CdcSyncReplicationSlotMissing`, `CdcSyncConnectorNotRunning`) instead of a silence.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from cdc_sync.errors import CdcSyncError
from cdc_sync.observability import metrics
from cdc_sync.store import health

REFRESH_S = 5.0  # with a 15 s scrape, a dropped slot alerts within 30 s
StatusOf = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Watched:
    connector: str
    slot: str


def running(status: Mapping[str, Any] | None) -> bool:
    """A connector that exists, with at least one task, all RUNNING (Connect's status document)."""
    if status is None or not status.get("tasks"):
        return False
    states = [status.get("connector", {}).get("state"), *(task.get("state") for task in status["tasks"])]
    return all(state == "RUNNING" for state in states)


class SourceHealth:
    """Reads both and sets the gauges; call `refresh` off the event loop (it queries)."""

    def __init__(self, engine: Engine, status_of: StatusOf, watched: Sequence[Watched]) -> None:
        self._engine = engine
        self._status_of = status_of
        self._watched = tuple(watched)

    def refresh(self) -> None:
        present = health.slot_names(self._engine) if self._watched else set()
        for watched in self._watched:
            metrics.REPLICATION_SLOT_PRESENT.labels(watched.slot).set(float(watched.slot in present))
            metrics.CONNECTOR_RUNNING.labels(watched.connector).set(float(self._running(watched.connector)))

    def _running(self, connector: str) -> bool:
        try:
            return running(self._status_of(connector))
        except CdcSyncError:  # Connect unreachable: nothing flows either
            return False
