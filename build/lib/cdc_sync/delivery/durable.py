"""`DeliveryHooks` over the state store: ledger, dead letters, alerts, incidents, pauses."""

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from cdc_sync.errors import CdcSyncError
from cdc_sync.model.delivery import Action, Delivery, Outcome
from cdc_sync.observability import metrics
from cdc_sync.observability.notify import Notifier
from cdc_sync.store import alerts, conflicts, destinations
from cdc_sync.store.dead_letters import DeadLetter, add_dead_letter
from cdc_sync.store.ledger import LedgerWriter, VendorRef, attempt_row

CONFLICT = 409  # the vendor's "changed since you looked": for a correction, a conflict to review


def _status_class(outcome: Outcome) -> str:
    return outcome.failure or f"{(outcome.status or 0) // 100}xx"


class DurableHooks:
    """Writes what happened; the sender decides what happens next."""

    def __init__(
        self,
        engine: Engine,
        ledger: LedgerWriter,
        notifier: Notifier,
        systems: Mapping[str, str] | None = None,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._notifier = notifier
        self._systems = systems or {}  # destination → the vendor's system (whose ids vendor refs are)
        self._escalating = asyncio.Lock()

    def attempted(self, delivery: Delivery, attempt: int, outcome: Outcome, action: Action) -> None:
        now = datetime.now(UTC)
        self._ledger.add(attempt_row(delivery, attempt, outcome, action.value, now))
        metrics.DELIVERIES.labels(delivery.destination, action.value).inc()
        metrics.REQUEST_LATENCY.labels(delivery.destination).observe(outcome.latency_s)
        # Counted when a retried delivery ends; a held one (paused destination) has not ended yet.
        if attempt > 1 and action in (Action.OK, Action.DEAD_LETTER):
            ended = "succeeded" if action is Action.OK else "failed"
            metrics.RETRIED_DELIVERIES.labels(delivery.destination, ended).inc()
        if action is Action.OK:
            if outcome.vendor_ref is not None:
                system = self._systems.get(delivery.destination, delivery.destination)
                self._ledger.add_ref(
                    VendorRef(system, outcome.vendor_ref, delivery.entity, delivery.destination)
                )
            if delivery.source.offset >= 0:  # not a fresh event: those were "committed" when read
                lag = (now - delivery.source.commit_ts).total_seconds()
                metrics.END_TO_END_LATENCY.labels(delivery.destination).observe(max(lag, 0.0))
            return
        metrics.API_ERRORS.labels(delivery.destination, _status_class(outcome)).inc()
        if action is Action.RETRY_AFTER:
            metrics.RATE_LIMIT_HITS.labels(delivery.destination).inc()
        if action in (Action.RETRY, Action.RETRY_AFTER):
            metrics.RETRIES.labels(delivery.destination).inc()

    def superseded(self, delivery: Delivery) -> None:
        self._ledger.add(attempt_row(delivery, 0, Outcome(None, 0.0), "superseded", datetime.now(UTC)))
        metrics.DELIVERIES.labels(delivery.destination, "superseded").inc()

    def durable(self, done: Callable[[], None]) -> None:
        """`done` runs on this loop once the ledger holds every row written so far."""
        loop = asyncio.get_running_loop()

        def on_loop() -> None:
            loop.call_soon_threadsafe(done)

        self._ledger.when_durable(on_loop)

    async def dead_letter(self, delivery: Delivery, outcome: Outcome) -> None:
        if delivery.request.correction is not None and outcome.status == CONFLICT:
            await asyncio.to_thread(conflicts.add_refused_correction, self._engine, delivery, outcome.summary)
            metrics.REFUSED_CORRECTIONS.labels(delivery.destination).inc()
            return
        await self.write_letter(delivery, outcome)

    async def write_letter(self, delivery: Delivery, outcome: Outcome) -> int:
        """The refused delivery as a dead letter with the vendor's answer; returns its id."""
        letter = DeadLetter(
            reason=f"{delivery.destination} refused {delivery.operation}: {outcome.summary}",
            source=delivery.source,
            table=delivery.table,
            entity=delivery.entity,
            destination=delivery.destination,
            payload=delivery.model_dump(mode="json"),
            response={"status": outcome.status, "body": outcome.body},
            idempotency_key=delivery.idempotency_key,
        )
        letter_id = await asyncio.to_thread(add_dead_letter, self._engine, letter)
        metrics.DEAD_LETTERS.labels(delivery.destination, "vendor_rejected").inc()
        return letter_id

    async def latency_breached(self, delivery: Delivery, outcome: Outcome, threshold_s: float) -> None:
        message = (
            f"{delivery.destination}: {delivery.operation} for {delivery.entity} "
            f"took {outcome.latency_s:.3f}s "
            f"(threshold {threshold_s:g}s); compensating as a timeout"
        )
        details = {"latency_s": round(outcome.latency_s, 3), "threshold_s": threshold_s, **_about(delivery)}
        await self._alert("warning", "latency_threshold", message, delivery.destination, details)

    async def escalate(self, delivery: Delivery, failures: int, last: Outcome) -> None:
        details = {"failures": failures, "last_outcome": last.summary, **_about(delivery)}
        summary = (
            f"{delivery.destination}: {delivery.operation} for {delivery.entity} failed {failures} times"
        )
        why = f"after {failures - 1} failed compensations"
        await self._pause(delivery, ("delivery_failing", "escalation"), summary, details, why)

    async def credentials_refused(self, delivery: Delivery, outcome: Outcome) -> None:
        details = {"last_outcome": outcome.summary, **_about(delivery)}
        summary = f"{delivery.destination}: credentials rejected ({outcome.summary[:200]})"
        kinds = ("credentials_rejected", "credentials_rejected")
        await self._pause(delivery, kinds, summary, details, "until the credential is fixed")

    async def _pause(
        self, delivery: Delivery, kinds: tuple[str, str], summary: str, details: dict[str, Any], why: str
    ) -> None:
        """Severe alert + incident + paused destination (once: later calls find it paused);
        `kinds` names the incident and the alert."""
        incident_kind, alert_kind = kinds
        async with self._escalating:
            state = await asyncio.to_thread(destinations.states, self._engine)
            if state.get(delivery.destination) == "paused":
                return
            incident = await asyncio.to_thread(
                alerts.open_incident, self._engine, delivery.destination, incident_kind, summary, details
            )
            reason = f"paused {why} (incident {incident})"
            await asyncio.to_thread(
                destinations.set_state, self._engine, delivery.destination, "paused", reason, incident
            )
            metrics.PAUSED.labels(delivery.destination).set(1)
            message = (
                f"SEVERE {summary}; destination paused awaiting manual confirmation (incident {incident})"
            )
            await self._alert(
                "severe", alert_kind, message, delivery.destination, {**details, "incident": incident}
            )

    async def hold(self, delivery: Delivery, reason: str) -> bool:
        return await asyncio.to_thread(destinations.hold, self._engine, delivery, reason)

    async def _alert(
        self, severity: alerts.Severity, kind: str, message: str, destination: str, details: dict[str, Any]
    ) -> None:
        recipients = self._notifier.recipients if severity == "severe" else []
        alert_id = await asyncio.to_thread(
            alerts.record_alert, self._engine, severity, kind, message, destination, details, recipients
        )
        metrics.ALERTS.labels(severity, kind).inc()
        alert = {
            "id": alert_id,
            "severity": severity,
            "kind": kind,
            "destination": destination,
            "message": message,
        }
        if severity == "severe" and await self._notifier.notify({**alert, "details": details}):
            await asyncio.to_thread(alerts.mark_notified, self._engine, alert_id)


class ReplayHalted(CdcSyncError):
    """The destination kept failing while an operator's replay was sending to it."""


class HaltingHooks(DurableHooks):
    """For replays an operator runs (held queue, dead letters): a destination that keeps failing
    stops the replay instead of escalating and pausing the live service's destination."""

    def __init__(self, engine: Engine, ledger: LedgerWriter, notifier: Notifier, aftermath: str) -> None:
        super().__init__(engine, ledger, notifier)
        self._aftermath = aftermath

    async def credentials_refused(self, delivery: Delivery, outcome: Outcome) -> None:
        await self.escalate(delivery, 1, outcome)

    async def escalate(self, delivery: Delivery, failures: int, last: Outcome) -> None:
        raise ReplayHalted(
            f"{delivery.destination} still failing ({last.summary}) while replaying {delivery.entity}; "
            f"{self._aftermath}"
        )


def _about(delivery: Delivery) -> dict[str, Any]:
    return {
        "entity": delivery.entity,
        "operation": delivery.operation,
        "idempotency_key": delivery.idempotency_key,
        "topic": delivery.source.topic,
        "offset": delivery.source.offset,
    }
