"""The separate writer: applies inbox events to the CRM in batches, each entity's events in arrival order.

A batch is one transaction: claiming its events, the CRM writes and marking them done commit
together, so a crash before the commit leaves them all pending (the restart applies them) and a
crash after leaves them done. One event that raises, whatever it raises, is rejected with the
reason and costs the others nothing: the batch runs again with a savepoint per event. A transient
database failure (the connection lost, a deadlock) rejects nothing: the whole batch stays pending
and the pass is retried with backoff, logged once when it starts failing and once when it recovers.
Writes carry `cdc_sync.origin` so the outbound pipeline does not echo them back. An event that
found nothing to apply to (unmatched) is tried again when an event of the same entity applies.
The writer sleeps until the inbox NOTIFYs new events, with a slow poll for a missed notification.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from cdc_sync.delivery.policy import backoff_s
from cdc_sync.errors import RetryableError
from cdc_sync.inbound.handlers import plan_write
from cdc_sync.inbound.ordering import EntityGate
from cdc_sync.inbound.writes import Applied
from cdc_sync.model.config import Owner
from cdc_sync.observability import metrics
from cdc_sync.store import inbox
from cdc_sync.store.crm_writes import SqlCrmReads, apply_plan
from cdc_sync.store.db_errors import failure_of, reason_of
from cdc_sync.vendors.registry import UPDATED_TABLES

log = logging.getLogger(__name__)

# Sets the event when new inbox events may be waiting; runs until cancelled.
Wakeup = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
Outcomes = list[tuple[inbox.Claimed, Applied]]


@dataclass(frozen=True)
class Writer:
    engine: Engine
    systems: Mapping[str, str]  # source → the system it speaks for
    authority: Mapping[str, Owner]
    batch: int = 100
    wakeup: Wakeup | None = None

    def apply_pending(self) -> "Pass":
        """Apply one batch of what is pending now, most urgent first, then oldest. RetryableError
        (or the database's own error) if the database failed it: then nothing of it is committed."""
        with self.engine.begin() as conn:
            claims = inbox.claim_batch(conn, self.batch)
            held = inbox.pending_before(conn, claims)
            applied = self._apply_batch(conn, claims.events, held)
            finished = [
                *claims.unreadable,
                *(inbox.Finished(c.inbox_id, o.status, o.detail) for c, o in applied),
            ]
            committed_at = inbox.finish_many(conn, finished)
            inbox.retry_waiting(conn, {c.event.entity for c, o in applied if o.status == "done"})
        for row in claims.unreadable:
            log.warning("inbox %s: rejected %s", row.inbox_id, row.result)
        for claimed_event, outcome in applied:
            _observe(claimed_event, outcome, committed_at)
        return Pass(claimed=len(claims.ids), applied=len(finished), batch=self.batch)

    def _apply_batch(
        self, conn: Connection, claimed: list[inbox.Claimed], held: list[tuple[int, str]]
    ) -> Outcomes:
        """All events in one savepoint first (the common case: every one applies); if any raises,
        back to before the batch and once more with a savepoint per event, so each keeps its own
        outcome and one bad event costs the others nothing but the repeat."""
        try:
            with conn.begin_nested():
                return self._each(conn, claimed, EntityGate.over(held), self._together)
        except Exception as exc:
            _raise_if_transient(conn, exc)
        return self._each(conn, claimed, EntityGate.over(held), self._isolated)

    def _each(
        self, conn: Connection, claimed: list[inbox.Claimed], gate: EntityGate, apply: "_ApplyOne"
    ) -> Outcomes:
        origin = _Origin(conn)
        return [
            (one, apply(conn, one, origin)) for one in claimed if gate.admits(one.inbox_id, one.event.entity)
        ]

    def _together(self, conn: Connection, claimed: inbox.Claimed, origin: "_Origin") -> Applied:
        return self._handle(conn, claimed, origin)

    def _isolated(self, conn: Connection, claimed: inbox.Claimed, origin: "_Origin") -> Applied:
        """The event in its own savepoint: its outcome, or rejected with what it raised."""
        try:
            with conn.begin_nested():
                origin.forget()  # a rolled-back savepoint takes the origin setting with it
                return self._handle(conn, claimed, origin)
        except Exception as exc:
            _raise_if_transient(conn, exc)
            log.debug("inbox %s raised", claimed.inbox_id, exc_info=True)  # its one line is _observe's
            return Applied("rejected", f"cannot apply {claimed.event.kind}: {reason_of(exc)}")

    def _handle(self, conn: Connection, claimed: inbox.Claimed, origin: "_Origin") -> Applied:
        """Decide the event's plan on what the CRM holds now, then carry it out."""
        system = self.systems.get(claimed.event.source, claimed.event.source)
        plan = plan_write(claimed.event, system, self.authority, SqlCrmReads(conn, UPDATED_TABLES))
        origin.set(system)
        apply_plan(conn, plan)
        return Applied(plan.status, plan.detail)

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Apply batches until `stop`; between them sleep until woken, or `idle_s` at most; after a
        failed pass sleep its backoff (new events do not cut it short, `stop` does)."""
        woken = asyncio.Event()
        helpers = [asyncio.create_task(_set_when(stop, woken))]
        if self.wakeup is not None:
            helpers.append(asyncio.create_task(self.wakeup(woken)))
        failures = PassFailures()
        try:
            while not stop.is_set():
                woken.clear()
                try:
                    done = await asyncio.to_thread(self.apply_pending)
                except Exception as exc:
                    await _sleep_unless(stop, failures.failed(exc, random.random()))
                    continue
                failures.succeeded()
                if not done.more_waiting:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), idle_s)
        finally:
            for helper in helpers:
                helper.cancel()


def _raise_if_transient(conn: Connection, exc: Exception) -> None:
    """A failure that is not the event's: the batch (its transaction) goes, all of it stays pending."""
    if conn.invalidated or failure_of(exc) == "transient":
        raise RetryableError(f"database failed the batch: {reason_of(exc)}") from exc


@dataclass
class PassFailures:
    """Failed passes in a row: one log line when they start and one when they end; the wait before
    the next pass grows from 0.5 s to 30 s."""

    count: int = 0
    base_s: float = 0.5
    cap_s: float = 30.0

    def failed(self, exc: Exception, jitter: float) -> float:
        """Count the failure; the seconds to wait before the next pass (`jitter`: a draw in [0, 1))."""
        self.count += 1
        if self.count == 1:
            log.warning("writer pass failed, pending events stay pending and are retried: %s", reason_of(exc))
        if failure_of(exc) == "transient":
            metrics.DEPENDENCY_UP.labels("database").set(0)
        return backoff_s(self.count, self.base_s, self.cap_s, jitter)

    def succeeded(self) -> None:
        if self.count:
            log.warning("writer passes succeed again after %d failed", self.count)
        self.count = 0
        metrics.DEPENDENCY_UP.labels("database").set(1)


@dataclass(frozen=True)
class Pass:
    claimed: int
    applied: int
    batch: int

    @property
    def more_waiting(self) -> bool:
        """A full batch that made progress: go on at once. Otherwise wait to be woken (no busy loop
        when every claimed event is held back)."""
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


_ApplyOne = Callable[[Connection, inbox.Claimed, _Origin], Applied]


async def _set_when(stop: asyncio.Event, woken: asyncio.Event) -> None:
    await stop.wait()
    woken.set()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _observe(claimed: inbox.Claimed, outcome: Applied, committed_at: datetime | None) -> None:
    """Webhook receipt → CRM commit, and what became of the event: one log line per event."""
    event = claimed.event
    level = logging.WARNING if outcome.status == "rejected" else logging.INFO
    log.log(
        level,
        "inbox %s %s %s: %s %s",
        claimed.inbox_id,
        event.source,
        event.kind,
        outcome.status,
        outcome.detail,
    )
    if committed_at is not None:
        latency = (committed_at - claimed.received_at).total_seconds()
        metrics.INBOUND_LATENCY.labels(event.source).observe(max(latency, 0.0))
    metrics.INBOUND_EVENTS.labels(event.source, outcome.status).inc()
