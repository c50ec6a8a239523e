"""Gauges of backlog kept in PostgreSQL (DLQ depth and age, replication slot lag), refreshed on a timer.

Both `cdc-sync run` and `cdc-sync serve` show them, so either process's /metrics is enough.
"""

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy import Engine

from cdc_sync.observability import metrics
from cdc_sync.observability.metrics import Labels
from cdc_sync.store import health
from cdc_sync.store.health import DeadLetterDepth

log = logging.getLogger(__name__)
REFRESH_S = 10.0


def dead_letter_levels(
    depths: Iterable[DeadLetterDepth], destinations: Iterable[str]
) -> dict[str, tuple[int, float]]:
    """Depth and oldest age per destination; a destination without open letters reads 0, not absent,
    so a drained queue shows as drained."""
    levels = dict.fromkeys(destinations, (0, 0.0))
    levels.update({depth.destination: (depth.open, depth.oldest_age_s) for depth in depths})
    return levels


class StateGauges:
    """Reads the backlog and sets the gauges; call `refresh` off the event loop (it queries)."""

    def __init__(self, engine: Engine, destinations: Iterable[str]) -> None:
        self._engine = engine
        self._seen: set[str] = set(destinations)
        self._slots: set[Labels] = set()

    def refresh(self) -> None:
        self._show_dead_letters(health.open_dead_letters(self._engine))
        slots = health.slot_lag_bytes(self._engine)
        self._slots = metrics.publish(
            metrics.REPLICATION_SLOT_LAG, {(slot,): lag for slot, lag in slots.items()}, self._slots
        )

    def _show_dead_letters(self, depths: list[DeadLetterDepth]) -> None:
        # Destinations seen before stay listed (at 0 once drained) until the process restarts,
        # so no label set is ever removed here.
        self._seen.update(depth.destination for depth in depths)
        for destination, (count, age) in dead_letter_levels(depths, sorted(self._seen)).items():
            metrics.DEAD_LETTERS_OPEN.labels(destination).set(count)
            metrics.DEAD_LETTER_OLDEST_AGE.labels(destination).set(age)


async def refresh_forever(gauges: StateGauges, every_s: float = REFRESH_S) -> None:
    """Refresh now and then every `every_s` until cancelled; a failed read is logged and retried."""
    while True:
        try:
            await asyncio.to_thread(gauges.refresh)
        except Exception:
            log.exception("refreshing the state gauges failed; will retry")
        await asyncio.sleep(every_s)
