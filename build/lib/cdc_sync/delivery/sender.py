"""The delivery engine: per-entity ordering, concurrency across entities, batching, merging,
retries, compensation, escalation and holding while a destination is paused.

Everything durable (ledger, dead letters, held queue, alerts) goes through `DeliveryHooks`;
this module only decides what happens next, using the pure policy.
"""

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cdc_sync.delivery.batching import BatchWindow
from cdc_sync.delivery.destinations import Destination
from cdc_sync.delivery.policy import backoff_s, classify, retry_after_s
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Action, Delivery, Outcome, supersedes

Done = Callable[[], None]
log = logging.getLogger(__name__)


class DeliveryHooks(Protocol):
    """The durable side effects of delivering (implemented over the state store)."""

    def attempted(self, delivery: Delivery, attempt: int, outcome: Outcome, action: Action) -> None: ...

    def superseded(self, delivery: Delivery) -> None:
        """A later change of the same object made this delivery pointless; it is not sent."""

    def durable(self, done: Done) -> None:
        """Run `done` once everything recorded about the delivery so far is durable."""

    async def dead_letter(self, delivery: Delivery, outcome: Outcome) -> None: ...

    async def latency_breached(self, delivery: Delivery, outcome: Outcome, threshold_s: float) -> None: ...

    async def escalate(self, delivery: Delivery, failures: int, last: Outcome) -> None:
        """Severe alert, incident, destination paused (idempotent while already paused)."""

    async def credentials_refused(self, delivery: Delivery, outcome: Outcome) -> None:
        """The vendor refused the credential (401/403): severe alert, destination paused."""

    async def hold(self, delivery: Delivery, reason: str) -> bool:
        """Park the delivery in the held queue; False if the destination is active again."""


@dataclass
class _Pending:
    delivery: Delivery
    done: Done


@dataclass
class _Tries:
    """One delivery's history so far: attempts, failures, and since when it is throttled."""

    attempts: int = 0
    failures: int = 0
    throttled_since: float | None = None

    def throttled_too_long(self, now: float, limit_s: float) -> bool:
        self.throttled_since = self.throttled_since if self.throttled_since is not None else now
        return now - self.throttled_since > limit_s


@dataclass
class Lane:
    """One destination: its adapter, its limits, and a queue per entity key."""

    config: DestinationConfig
    destination: Destination
    hooks: DeliveryHooks
    paused: bool = False
    closing: bool = False  # set on shutdown: finish the attempt under way, start no other
    rand: random.Random = field(default_factory=random.Random)
    _queues: dict[str, deque[_Pending]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        slots = asyncio.Semaphore(self.config.max_concurrency)
        self._window = BatchWindow(self.destination, self.config.batch_window_s, slots)

    def submit(self, delivery: Delivery, done: Done) -> None:
        """Queue behind earlier deliveries of the same entity; `done` runs once it is durable."""
        queue = self._queues.setdefault(delivery.entity, deque())
        queue.append(_Pending(delivery, done))
        if len(queue) == 1:
            task = asyncio.get_running_loop().create_task(self._drain(delivery.entity))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, entity: str) -> None:
        queue = self._queues[entity]
        while queue and not self.closing:
            if not self.paused:  # held deliveries stay as they were: resume replays each one
                self._merge(queue)
            pending = queue[0]
            try:
                if not await self.deliver(pending.delivery):
                    break  # closing: left undone, its offset is not stored, the next run re-reads it
            except Exception:
                # The state store or the adapter broke unexpectedly: nothing was acknowledged,
                # so the same delivery (same idempotency key) is tried again.
                log.exception(
                    "delivery of %s to %s failed; retrying", pending.delivery.entity, self.config.system
                )
                await asyncio.sleep(1.0)
                continue
            self.hooks.durable(pending.done)
            queue.popleft()
        del self._queues[entity]

    def _merge(self, queue: deque[_Pending]) -> None:
        """Latest wins: a delivery whose successor carries the object's whole state again is
        recorded as superseded and counts as done (its offset may move on) without being sent."""
        while len(queue) > 1 and supersedes(queue[1].delivery, queue[0].delivery):
            earlier = queue.popleft()
            self.hooks.superseded(earlier.delivery)
            self.hooks.durable(earlier.done)

    async def deliver(self, delivery: Delivery) -> bool:
        """Deliver one request until it is acknowledged, dead-lettered or held (True), or the lane
        closes between attempts (False)."""
        tries = _Tries()
        while not self.closing:
            if self.paused and await self.hooks.hold(delivery, "destination paused"):
                return True
            outcome = await self._attempt(delivery)
            tries.attempts += 1
            action = classify(outcome, delivery.request, self.config.latency_threshold_s)
            self.hooks.attempted(delivery, tries.attempts, outcome, action)
            if await self._settled(action, delivery, outcome, tries):
                return True
        return False

    async def _settled(self, action: Action, delivery: Delivery, outcome: Outcome, tries: _Tries) -> bool:
        """Act on one answer; True once the delivery is acknowledged or dead-lettered."""
        if action is Action.OK:
            return True
        if action is Action.DEAD_LETTER:
            await self.hooks.dead_letter(delivery, outcome)
            return True
        if action is Action.PAUSE:
            await self.hooks.credentials_refused(delivery, outcome)
            self.paused = True  # this delivery and every later one are held, none dead-lettered
            return False
        limit_s = self.config.max_throttled_s
        if action is Action.RETRY_AFTER and not tries.throttled_too_long(time.monotonic(), limit_s):
            await self._pause_for(retry_after_s(outcome, self.config.retry_after_cap_s))
            return False
        tries.failures += 1
        await self._compensate(delivery, outcome, tries.failures)
        return False

    async def _attempt(self, delivery: Delivery) -> Outcome:
        # The window takes a connection slot per vendor call; the adapter takes a rate-limit token
        # per request it makes, after the slot, so requests queued behind slow ones never burst.
        return await self._window.send(delivery)

    async def _compensate(self, delivery: Delivery, outcome: Outcome, failures: int) -> None:
        if outcome.failure == "timeout" or outcome.latency_s > self.config.latency_threshold_s:
            await self.hooks.latency_breached(delivery, outcome, self.config.latency_threshold_s)
        if failures > self.config.max_compensations:
            await self.hooks.escalate(delivery, failures, outcome)
            self.paused = True
            return
        await self._pause_for(
            backoff_s(failures, self.config.backoff_base_s, self.config.backoff_cap_s, self.rand.random())
        )

    async def _pause_for(self, seconds: float) -> None:
        """Wait, unless the lane closes meanwhile (SIGTERM must not wait out a long backoff)."""
        try:
            await asyncio.wait_for(self._closed.wait(), seconds)
        except TimeoutError:
            return

    def close(self) -> None:
        """Finish the attempts under way, start no other, and cut every wait short."""
        self.closing = True
        self._closed.set()

    async def drain(self) -> None:
        """Wait until every queued delivery is done (for shutdown and rebalances)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
