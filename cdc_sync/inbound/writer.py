"""The separate writer: applies inbox events to the CRM in batches, each entity's events in arrival order.

A batch is one transaction: claiming its events, the CRM writes and marking them done commit
together, so a crash before the commit leaves them all pending (the restart applies them) and a
crash after leaves them done. Each event runs in its own savepoint and keeps its own outcome: one
that cannot apply is marked rejected, one that fails unexpectedly is left pending for the next
batch (and holds back its entity's later events), and neither stops the others.
Writes carry `cdc_sync.origin` so the outbound pipeline does not echo them back.
The writer sleeps until the inbox NOTIFYs new events, with a slow poll for a missed notification.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, IntegrityError

from cdc_sync.config import Owner
from cdc_sync.errors import RejectedEvent
from cdc_sync.inbound.handlers import HANDLERS, Applied
from cdc_sync.inbound.ordering import EntityGate
from cdc_sync.inbound.writes import WriteScope
from cdc_sync.observability import metrics
from cdc_sync.store import inbox

log = logging.getLogger(__name__)

# Sets the event when new inbox events may be waiting; runs until cancelled.
Wakeup = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
_REJECTED = (RejectedEvent, IntegrityError, DataError, KeyError, ValueError, ArithmeticError)


@dataclass(frozen=True)
class Writer:
    engine: Engine
    systems: Mapping[str, str]  # source → the system it speaks for
    authority: Mapping[str, Owner]
    batch: int = 100
    wakeup: Wakeup | None = None

    def apply_pending(self) -> "Pass":
        """Apply one batch of what is pending now, oldest first."""
        with self.engine.begin() as conn:
            claimed = inbox.claim_batch(conn, self.batch)
            held = inbox.pending_before(conn, claimed)
            applied = self._apply_batch(conn, claimed, held)
            finished = [inbox.Finished(c.inbox_id, o.status, o.detail) for c, o in applied]
            committed_at = inbox.finish_many(conn, finished)
        for claimed_event, outcome in applied:
            _observe(claimed_event, outcome, committed_at)
        return Pass(claimed=len(claimed), applied=len(applied), batch=self.batch)

    def _apply_batch(
        self, conn: Connection, claimed: list[inbox.Claimed], held: list[tuple[int, str]]
    ) -> list[tuple[inbox.Claimed, Applied]]:
        """All events in one savepoint first (the common case: every one applies); if any raises,
        back to before the batch and once more with a savepoint per event, so each keeps its own
        outcome and one bad event costs the others nothing but the repeat."""
        try:
            with conn.begin_nested():
                return self._each(conn, claimed, EntityGate.over(held), self._unguarded)
        except Exception:
            if conn.invalidated:
                raise  # the connection is gone: so is the batch, all of it stays pending
        return self._each(conn, claimed, EntityGate.over(held), self._guarded)

    def _each(
        self, conn: Connection, claimed: list[inbox.Claimed], gate: EntityGate, apply: "_ApplyOne"
    ) -> list[tuple[inbox.Claimed, Applied]]:
        origin = _Origin(conn)
        applied: list[tuple[inbox.Claimed, Applied]] = []
        for one in claimed:
            if gate.admits(one.inbox_id, one.event.entity):
                outcome = apply(conn, one, gate, origin)
                if outcome is not None:
                    applied.append((one, outcome))
        return applied

    def _scope(self, conn: Connection, claimed: inbox.Claimed, origin: "_Origin") -> WriteScope:
        system = self.systems.get(claimed.event.source, claimed.event.source)
        origin.set(system)
        return WriteScope(conn, claimed.event, system, self.authority)

    def _unguarded(
        self, conn: Connection, claimed: inbox.Claimed, gate: EntityGate, origin: "_Origin"
    ) -> Applied | None:
        return self._handle(self._scope(conn, claimed, origin))

    def _guarded(
        self, conn: Connection, claimed: inbox.Claimed, gate: EntityGate, origin: "_Origin"
    ) -> Applied | None:
        """The event in its own savepoint: its outcome, or None if it failed and stays pending."""
        event = claimed.event
        try:
            with conn.begin_nested():
                origin.forget()  # a rolled-back savepoint takes the origin setting with it
                return self._handle(self._scope(conn, claimed, origin))
        except _REJECTED as exc:
            return Applied("rejected", f"cannot apply {event.kind}: {exc}")
        except Exception:  # rolled back to its savepoint: retried with the next batch
            if conn.invalidated:
                raise
            log.exception("inbox %s %s %s failed; left pending", claimed.inbox_id, event.source, event.kind)
            gate.hold(claimed.inbox_id, event.entity)
            return None

    def _handle(self, scope: WriteScope) -> Applied:
        handler = HANDLERS.get(scope.event.kind)
        if handler is None:
            return Applied("rejected", f"no handler for {scope.event.kind}")
        return handler(scope)

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Apply batches until `stop`; between them sleep until woken, or `idle_s` at most."""
        woken = asyncio.Event()
        helpers = [asyncio.create_task(_set_when(stop, woken))]
        if self.wakeup is not None:
            helpers.append(asyncio.create_task(self.wakeup(woken)))
        try:
            while not stop.is_set():
                woken.clear()
                if not (await self._pass()).more_waiting:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), idle_s)
        finally:
            for helper in helpers:
                helper.cancel()

    async def _pass(self) -> "Pass":
        try:
            return await asyncio.to_thread(self.apply_pending)
        except Exception:
            log.exception("writer pass failed; pending events stay pending and are retried")
            return Pass(claimed=0, applied=0, batch=self.batch)


@dataclass(frozen=True)
class Pass:
    claimed: int
    applied: int
    batch: int

    @property
    def more_waiting(self) -> bool:
        """A full batch that made progress: go on at once. Otherwise wait to be woken (no busy loop
        when every claimed event is held back or failing)."""
        return self.claimed >= self.batch and self.applied > 0


class _Origin:
    """`cdc_sync.origin` for the writes that follow, set only when the system changes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._system: str | None = None

    def set(self, system: str) -> None:
        if system != self._system:
            self._conn.execute(text("SELECT set_config('cdc_sync.origin', :s, true)"), {"s": system})
            self._system = system

    def forget(self) -> None:
        self._system = None


_ApplyOne = Callable[[Connection, inbox.Claimed, EntityGate, _Origin], Applied | None]


async def _set_when(stop: asyncio.Event, woken: asyncio.Event) -> None:
    await stop.wait()
    woken.set()


def _observe(claimed: inbox.Claimed, outcome: Applied, committed_at: datetime | None) -> None:
    """Webhook receipt → CRM commit, and what became of the event."""
    event = claimed.event
    log.info(
        "inbox %s %s %s: %s %s", claimed.inbox_id, event.source, event.kind, outcome.status, outcome.detail
    )
    if committed_at is not None:
        latency = (committed_at - claimed.received_at).total_seconds()
        metrics.INBOUND_LATENCY.labels(event.source).observe(max(latency, 0.0))
    metrics.INBOUND_EVENTS.labels(event.source, outcome.status).inc()
