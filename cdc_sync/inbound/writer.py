"""The separate writer: applies inbox events to the CRM, one transaction each, in arrival order.

Claiming the event, the CRM writes and marking it done share one transaction: a crash before
the commit leaves the event pending (the restart applies it), a crash after leaves it done.
Writes carry `cdc_sync.origin` so the outbound pipeline does not echo them back.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, IntegrityError

from cdc_sync.config import Owner
from cdc_sync.errors import RejectedEvent
from cdc_sync.inbound.handlers import HANDLERS, Applied
from cdc_sync.inbound.writes import WriteScope
from cdc_sync.observability import metrics
from cdc_sync.store import inbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Writer:
    engine: Engine
    systems: Mapping[str, str]  # source → the system it speaks for
    authority: Mapping[str, Owner]
    batch: int = 200

    def apply_pending(self) -> int:
        """Apply what is pending now, oldest first; returns how many events were applied."""
        applied = 0
        for inbox_id in inbox.pending_ids(self.engine, self.batch):
            applied += self._apply(inbox_id)
        return applied

    def _apply(self, inbox_id: int) -> int:
        with self.engine.begin() as conn:
            claimed = inbox.claim(conn, inbox_id)
            if claimed is None:
                return 0
            event = claimed.event
            system = self.systems.get(event.source, event.source)
            conn.execute(text("SELECT set_config('cdc_sync.origin', :s, true)"), {"s": system})
            outcome = self._handle(WriteScope(conn, event, system, self.authority))
            finished = inbox.finish(conn, inbox_id, outcome.status, outcome.detail)
        _observe(claimed, outcome, committed_at=finished)
        log.info("inbox %s %s %s: %s %s", inbox_id, event.source, event.kind, outcome.status, outcome.detail)
        return 1

    def _handle(self, scope: WriteScope) -> Applied:
        """Run the handler in a savepoint: an event that cannot apply is marked, not retried forever."""
        handler = HANDLERS.get(scope.event.kind)
        if handler is None:
            return Applied("rejected", f"no handler for {scope.event.kind}")
        try:
            with scope.conn.begin_nested():
                return handler(scope)
        except (RejectedEvent, IntegrityError, DataError, KeyError, ValueError, ArithmeticError) as exc:
            return Applied("rejected", f"cannot apply {scope.event.kind}: {exc}")

    async def run(self, stop: asyncio.Event, idle_s: float = 0.05) -> None:
        while not stop.is_set():
            try:
                done = await asyncio.to_thread(self.apply_pending)
            except Exception:
                log.exception("writer pass failed; pending events stay pending and are retried")
                done = 0
            if not done:
                await asyncio.sleep(idle_s)


def _observe(claimed: inbox.Claimed, outcome: Applied, committed_at: datetime) -> None:
    """Webhook receipt → CRM commit, and what became of the event."""
    source = claimed.event.source
    latency = (committed_at - claimed.received_at).total_seconds()
    metrics.INBOUND_LATENCY.labels(source).observe(max(latency, 0.0))
    metrics.INBOUND_EVENTS.labels(source, outcome.status).inc()
