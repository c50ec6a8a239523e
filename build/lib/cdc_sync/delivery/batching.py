"""The batch window of one destination: deliveries of the same batch group that arrive within
`window_s` of the first go out as one vendor call (sooner when the group is full).

Each caller still waits for its own delivery's outcome, so retries, dead letters and per-key
order stay per delivery: a lane sends one delivery of an object at a time, so an object has at
most one item in any batch, and its next change can only join a later one.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from cdc_sync.delivery.destinations import Destination
from cdc_sync.model.delivery import Delivery, Outcome


@dataclass
class _Open:
    deliveries: list[Delivery] = field(default_factory=list)
    waiters: list[asyncio.Future[Outcome]] = field(default_factory=list)


class BatchWindow:
    def __init__(self, destination: Destination, window_s: float, slots: asyncio.Semaphore) -> None:
        self._destination = destination
        self._window_s = window_s
        self._slots = slots  # one per vendor call under way, batched or not
        self._open: dict[str, _Open] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def send(self, delivery: Delivery) -> Outcome:
        group = self._destination.batch_group(delivery)
        if group is None:
            async with self._slots:
                (outcome,) = await self._destination.send([delivery])
            return outcome
        waiter = self._join(group, delivery)
        return await waiter

    def _join(self, group: str, delivery: Delivery) -> asyncio.Future[Outcome]:
        loop = asyncio.get_running_loop()
        batch = self._open.setdefault(group, _Open())
        waiter: asyncio.Future[Outcome] = loop.create_future()
        batch.deliveries.append(delivery)
        batch.waiters.append(waiter)
        if len(batch.deliveries) >= self._destination.batch_limit(group):
            self._close(group, batch)
        elif len(batch.deliveries) == 1:
            loop.call_later(self._window_s, self._close, group, batch)
        return waiter

    def _close(self, group: str, batch: _Open) -> None:
        if self._open.get(group) is not batch:
            return  # already sent because it filled up
        del self._open[group]
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _flush(self, batch: _Open) -> None:
        try:
            async with self._slots:
                outcomes = await self._destination.send(batch.deliveries)
        except Exception as exc:  # the adapter broke: every caller sees it and tries again
            _settle(batch.waiters, exc)
            return
        _settle(batch.waiters, outcomes)


def _settle(waiters: list[asyncio.Future[Outcome]], results: Sequence[Outcome] | Exception) -> None:
    for index, waiter in enumerate(waiters):
        if waiter.done():
            continue  # the caller gave up (shutdown)
        if isinstance(results, Exception):
            waiter.set_exception(results)
        else:
            waiter.set_result(results[index])
