"""Group commit for the inbox: many webhooks' events in one statement and one transaction.

Each request hands its parsed event to `put` and is answered only once the batch holding its row
has committed, so a 2xx still means durable. A batch flushes when it is full or when its first
event has waited `max_wait_s`; while one batch is being written the next one fills, so under load
batches grow by themselves and the database sees a few large commits instead of many small ones.
Whatever goes wrong with a batch (the database down, a timeout, a bug) fails that batch's waiters
with `StackUnavailable` (503, retry later) and only them; the next batch starts afresh. One event
the database refuses (`RejectedEvent`) must not cost its neighbours: the batch is stored again one
event at a time, so only that event's request is refused (422) and the others are stored.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cdc_sync.errors import RejectedEvent, StackUnavailable
from cdc_sync.model.inbound import InboundEvent

log = logging.getLogger(__name__)

# Stores the events in one transaction; returns, per event in order, True if its row is new.
# Raises RejectedEvent if what one of them holds cannot be stored, anything else if none can now.
StoreBatch = Callable[[Sequence[InboundEvent]], Awaitable[list[bool]]]


@dataclass(frozen=True)
class BatchPolicy:
    max_rows: int = 500
    max_wait_s: float = 0.002
    timeout_s: float = 5.0  # a request waits no longer than this for its row: 503, never a hang
    max_queued: int = 20_000  # beyond this the database is not keeping up: refuse at once


@dataclass(frozen=True)
class _Waiter:
    event: InboundEvent
    stored: "asyncio.Future[bool]"


def new_per_event(keys: Sequence[tuple[str, str]], inserted: Sequence[tuple[str, str]]) -> list[bool]:
    """Which events of a batch were new, given the (source, event id) keys the insert returned.

    A key the batch holds twice was inserted once: its first occurrence is new, the repeat a duplicate.
    """
    fresh = set(inserted)
    flags: list[bool] = []
    for key in keys:
        flags.append(key in fresh)
        fresh.discard(key)
    return flags


class InboxBatcher:
    """The app's inbox port (`put`) over a `StoreBatch`, one batch in flight at a time."""

    def __init__(self, store: StoreBatch, policy: BatchPolicy | None = None) -> None:
        self._store = store
        self._policy = policy or BatchPolicy()
        self._queue: asyncio.Queue[_Waiter] | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def put(self, event: InboundEvent) -> bool:
        """Commit the event with its batch: True if new, False if stored before; else StackUnavailable."""
        queue = self._running()
        if queue.qsize() >= self._policy.max_queued:
            raise StackUnavailable(f"inbox backlog of {queue.qsize()} events: not accepting more now")
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[bool] = loop.create_future()
        stored.add_done_callback(_retrieved)  # a waiter that gave up must not log "never retrieved"
        expiry = loop.call_later(self._policy.timeout_s, _expire, stored, self._policy.timeout_s)
        queue.put_nowait(_Waiter(event, stored))
        try:
            return await stored
        finally:
            expiry.cancel()

    async def close(self) -> None:
        """Stop flushing (after the requests in flight were answered, as the server shuts down)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._flusher = None

    def _running(self) -> "asyncio.Queue[_Waiter]":
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(self._queue))
        return self._queue

    async def _flush_forever(self, queue: "asyncio.Queue[_Waiter]") -> None:
        while True:
            batch = await self._next_batch(queue)
            await self._flush(batch)

    async def _next_batch(self, queue: "asyncio.Queue[_Waiter]") -> list[_Waiter]:
        batch = [await queue.get()]
        deadline = asyncio.get_running_loop().time() + self._policy.max_wait_s
        while len(batch) < self._policy.max_rows:
            if queue.empty():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    batch.append(await asyncio.wait_for(queue.get(), left))
                continue
            batch.append(queue.get_nowait())
        return batch

    async def _flush(self, batch: list[_Waiter]) -> None:
        waiting = [waiter for waiter in batch if not waiter.stored.done()]
        if not waiting:
            return
        try:
            stored = await asyncio.wait_for(
                self._store([waiter.event for waiter in waiting]), self._policy.timeout_s
            )
        except RejectedEvent as exc:
            if len(waiting) == 1:
                _fail(waiting, exc)
                return
            for waiter in waiting:  # which one it was: each on its own
                await self._flush([waiter])
            return
        except Exception as exc:  # every other failure of a batch is "retry later" for its requests
            _fail(waiting, exc)
            return
        for waiter, is_new in zip(waiting, stored, strict=True):
            if not waiter.stored.done():
                waiter.stored.set_result(is_new)


def _expire(stored: "asyncio.Future[bool]", timeout_s: float) -> None:
    if not stored.done():
        stored.set_exception(StackUnavailable(f"inbox did not commit within {timeout_s}s"))


def _retrieved(stored: "asyncio.Future[bool]") -> None:
    if not stored.cancelled():
        stored.exception()


def _fail(waiting: list[_Waiter], exc: Exception) -> None:
    log.warning("inbox batch of %d events not stored: %s", len(waiting), exc)
    answer = (
        exc
        if isinstance(exc, StackUnavailable | RejectedEvent)
        else StackUnavailable(f"inbox batch failed: {exc}")
    )
    for waiter in waiting:
        if not waiter.stored.done():
            waiter.stored.set_exception(answer)
