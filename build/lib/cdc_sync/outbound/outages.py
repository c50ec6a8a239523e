"""Waiting out an outage of a part the outbound flow needs (the registry, the state database).

An outage is not poison: nothing is dead-lettered, the process stays up and waits, with
backoff, until the part answers again (or SIGTERM). `/metrics` shows it as
`cdc_sync_dependency_up{dependency} 0`, and one log line marks its start and its end.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from cdc_sync.errors import CdcSyncError, StackUnavailable
from cdc_sync.observability import metrics

T = TypeVar("T")
log = logging.getLogger(__name__)
# What "the part is not there" looks like; any other error is a bug or poison, not an outage.
OUTAGES = (StackUnavailable, OperationalError, InterfaceError, ConnectionError, TimeoutError)


class Stopping(CdcSyncError):
    """SIGTERM arrived while waiting out an outage: stop; what is unfinished is re-read later."""


def outage_backoff_s(failures: int, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    return min(cap_s, base_s * 2.0 ** max(failures - 1, 0))


class Dependencies:
    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self._failing: dict[str, int] = {}

    async def call(self, dependency: str, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread, retried through outages of `dependency`."""
        while True:
            try:
                result = await asyncio.to_thread(work, *args)
            except OUTAGES as exc:
                await self.wait(dependency, exc)
                continue
            self.recovered(dependency)
            return result

    async def wait(self, dependency: str, exc: BaseException, down: bool = True) -> None:
        """One failed try: mark the part down (unless `down` is False: it answered, but not yet
        with what we need) and sleep its backoff, interrupted by SIGTERM."""
        failures = self._failing[dependency] = self._failing.get(dependency, 0) + 1
        if down:
            metrics.DEPENDENCY_UP.labels(dependency).set(0)
        if failures == 1:
            log.warning("%s unavailable, waiting for it: %s", dependency, exc)
        try:
            await asyncio.wait_for(self._stop.wait(), outage_backoff_s(failures))
        except TimeoutError:
            return
        raise Stopping(f"stopped while {dependency} was unavailable")

    def recovered(self, dependency: str) -> None:
        if self._failing.pop(dependency, 0):
            log.warning("%s available again", dependency)
        metrics.DEPENDENCY_UP.labels(dependency).set(1)
