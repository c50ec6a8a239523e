"""`cdc-sync run`: the change source (a Kafka consumer group) around the outbound pipeline.

Offsets are stored (and auto-committed) only once every delivery an event produced is durable:
acknowledged by the vendor, dead-lettered with a reason, or held for a paused destination.
Revoked partitions are drained first; what cannot drain in time is re-read by the next owner
and deduplicated by idempotency keys.

Decoding and planning are CPU work on the event loop; a poll's batch takes tens of milliseconds
of it, so the batch is worked through in time slices, in offset order, with the other tasks
getting their turn in between (`LoopWatch` shows how long the loop is held).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.delivery.sender import Lane
from cdc_sync.errors import SchemaUnknown, StackUnavailable
from cdc_sync.events import ChangeEvent
from cdc_sync.mapping.normalize import load_reference_data
from cdc_sync.observability import metrics
from cdc_sync.observability.source_health import REFRESH_S as SOURCE_REFRESH_S
from cdc_sync.observability.source_health import SourceHealth
from cdc_sync.observability.state_gauges import REFRESH_S, StateGauges
from cdc_sync.outbound.change_source import ChangeSource, Partition
from cdc_sync.outbound.contracts import Contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage
from cdc_sync.outbound.loop_watch import SLICE_S, LoopWatch, TimeSlice, settle_process
from cdc_sync.outbound.offsets import PartitionProgress
from cdc_sync.outbound.outages import Dependencies, Stopping
from cdc_sync.outbound.pipeline import EventPlan, Rejection, Route, lookup_ids, plan_event
from cdc_sync.outbound.poison import poison_letter
from cdc_sync.repair.retention import prune_forever
from cdc_sync.store import health
from cdc_sync.store.crm import fetch_lookups
from cdc_sync.store.dead_letters import DeadLetter, add_dead_letter
from cdc_sync.store.destinations import FOLLOW_S
from cdc_sync.store.destinations import controls as read_controls
from cdc_sync.store.ledger import LedgerWriter

log = logging.getLogger(__name__)
REVOKE_DRAIN_S = 30.0
MAX_IN_FLIGHT = 5000  # consumed events not yet durable; above it the partitions are paused


@dataclass(frozen=True)
class RunnerParts:
    source: ChangeSource
    topic_prefix: str
    config: AppConfig
    engine: Engine
    decoder: EnvelopeDecoder
    contracts: Contracts
    routes: dict[str, list[Route]]
    lanes: dict[str, Lane]
    ledger: LedgerWriter
    source_health: SourceHealth | None = None


class OutboundRunner:
    def __init__(self, parts: RunnerParts, slice_s: float = SLICE_S) -> None:
        self._p = parts
        self._slice_s = slice_s
        self._watch = LoopWatch()
        self._progress: dict[Partition, PartitionProgress] = {}
        # Offsets ready to store, handed from the event loop to the consumer thread: librdkafka
        # calls on the loop would wait for the consume() running in the thread.
        self._ready: dict[Partition, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deps = Dependencies(asyncio.Event())
        self._state_gauges = StateGauges(parts.engine, parts.config.destinations)
        self._shares: dict[str, float] = {}  # rollout shares, read before the first poll
        _prime_counters(parts)

    def not_ready(self) -> str | None:
        """`/readyz` of `run`: a member holding partitions, with its state database answering."""
        if not self._p.source.assigned():
            return "no partitions assigned (not yet, or more members than partitions)"
        return health.unreachable(self._p.engine)

    @property
    def topics(self) -> list[str]:
        return sorted(f"{self._p.topic_prefix}.{table}" for table in self._p.routes)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._deps = Dependencies(stop)
        await asyncio.to_thread(load_reference_data)  # once, before any change waits for it
        await self._sync_states()
        settle_process()
        self._p.source.open(self.topics, self._revoked)
        chores = [
            asyncio.create_task(self._watch.run()),
            asyncio.create_task(self._every(0.2, self._flush_ledger)),
            asyncio.create_task(self._every(FOLLOW_S, self._sync_states)),
            asyncio.create_task(self._every(REFRESH_S, self._refresh_state_gauges)),
            asyncio.create_task(prune_forever(self._p.engine, self._p.config.retention, stop)),
        ]
        if self._p.source_health is not None:
            chores.append(asyncio.create_task(self._every(SOURCE_REFRESH_S, self._refresh_source_health)))
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(self._poll, self._in_flight() < MAX_IN_FLIGHT)
                await self._handle(batch)
        except Stopping as exc:
            log.info("%s", exc)
        finally:
            await self._shutdown(chores)

    def _poll(self, take: bool) -> list[RawMessage]:
        """Runs on the consumer thread: store finished offsets, then fetch the next batch.

        With too much in flight the partitions are paused but still polled, so the group keeps
        this member while slow vendors catch up (backpressure instead of an unbounded queue).
        """
        self._store_ready()
        (self._p.source.resume if take else self._p.source.pause)()
        return self._p.source.poll(self._p.config.consumer.poll_batch, 0.2)

    def _in_flight(self) -> int:
        return sum(progress.pending for progress in self._progress.values())

    def _store_ready(self) -> None:
        ready, self._ready = self._ready, {}
        owned = {partition: offset for partition, offset in ready.items() if partition in self._progress}
        if owned:
            self._p.source.store_offsets(owned)

    async def _handle(self, batch: list[RawMessage]) -> None:
        if not await self._schemas_ready(batch):
            return
        slice_ = TimeSlice(self._slice_s)
        decoded: list[tuple[Partition, int, ChangeEvent]] = []
        for message in batch:
            item = await self._decode(message)
            if item is not None:
                decoded.append(item)
            await slice_.turn()
        if not decoded:
            return
        contact_ids, tag_ids = lookup_ids([event for *_, event in decoded], self._p.routes)
        lookups = await self._deps.call("database", fetch_lookups, self._p.engine, contact_ids, tag_ids)
        for partition, offset, event in decoded:
            plan = plan_event(
                event, self._p.routes, self._check_contract, self._p.config.authority, lookups, self._shares
            )
            await self._carry_out(partition, offset, event, plan)
            await slice_.turn()

    async def _schemas_ready(self, batch: list[RawMessage]) -> bool:
        """The batch's writer schemas are known. While the registry is down (or does not know an
        id yet) the batch is not handled: its partitions are sought back to it, to be read again
        after a backoff, so nothing is lost, dead-lettered or held in memory meanwhile."""
        unseen = self._p.decoder.unseen_schemas(data for m in batch for data in (m.key, m.value))
        if not unseen:
            return True
        try:
            await asyncio.to_thread(self._p.decoder.prepare, unseen)
        except (StackUnavailable, SchemaUnknown) as exc:
            await asyncio.to_thread(self._p.source.seek_back, batch)
            await self._deps.wait("registry", exc, down=isinstance(exc, StackUnavailable))
            return False
        self._deps.recovered("registry")
        return True

    async def _decode(self, raw: RawMessage) -> tuple[Partition, int, ChangeEvent] | None:
        partition = (raw.topic, raw.partition)
        self._progress.setdefault(partition, PartitionProgress()).begin(raw.offset)
        try:
            event = self._p.decoder.decode(raw)
        except Exception as exc:  # poison: this record only; the partition keeps flowing
            await self._deps.call("database", add_dead_letter, self._p.engine, poison_letter(raw, exc))
            metrics.DEAD_LETTERS.labels("", "undecodable").inc()
            event = None
        if event is None:
            self._finish(partition, raw.offset)
            return None
        metrics.EVENTS.labels(event.table).inc()
        return partition, raw.offset, event

    def _check_contract(self, event: ChangeEvent) -> int:
        return self._p.contracts.check(event, self._p.decoder.row_schema(event.schema_id))

    async def _carry_out(
        self, partition: Partition, offset: int, event: ChangeEvent, plan: EventPlan
    ) -> None:
        _count(plan)
        for rejection in plan.rejections:
            await self._deps.call("database", add_dead_letter, self._p.engine, _letter(event, rejection))
        if not plan.deliveries:
            self._finish(partition, offset)
            return
        remaining = [len(plan.deliveries)]

        def one_done() -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                self._finish(partition, offset)

        for delivery in plan.deliveries:
            self._p.lanes[delivery.destination].submit(delivery, one_done)

    def _finish(self, partition: Partition, offset: int) -> None:
        progress = self._progress.get(partition)
        committable = progress.finish(offset) if progress is not None else None
        if committable is not None:
            self._ready[partition] = committable

    def _revoked(self, revoked: list[Partition]) -> None:
        """Runs inside the source's poll on the worker thread: let in-flight work of these
        partitions finish and store their offsets (the source commits them next)."""
        if self._loop is not None:
            future = asyncio.run_coroutine_threadsafe(self._drain(revoked, REVOKE_DRAIN_S), self._loop)
            future.result(timeout=REVOKE_DRAIN_S + 5)
        self._store_ready()
        for partition in revoked:
            self._progress.pop(partition, None)

    async def _drain(self, partitions: list[Partition], timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(self._pending(p) for p in partitions) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    def _pending(self, partition: Partition) -> int:
        progress = self._progress.get(partition)
        return progress.pending if progress is not None else 0

    async def _shutdown(self, chores: list[asyncio.Task[None]]) -> None:
        # Finish the attempts under way, start no new ones: what is left is re-read next time.
        for lane in self._p.lanes.values():
            lane.close()
        await asyncio.gather(*(lane.drain() for lane in self._p.lanes.values()))
        for chore in chores:
            chore.cancel()
        try:
            await asyncio.to_thread(self._p.ledger.flush)
        except Exception as exc:  # their offsets stay unstored: re-read and deduplicated next time
            log.warning("ledger not flushed on shutdown: %s", exc)
        await asyncio.to_thread(self._store_ready)
        await asyncio.to_thread(self._p.source.close)  # revokes (drained already) and commits stored offsets

    async def _every(self, seconds: float, chore: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await chore()
            except Exception:
                log.exception("background chore failed; will retry")

    async def _flush_ledger(self) -> None:
        await asyncio.to_thread(self._p.ledger.flush)

    async def _refresh_state_gauges(self) -> None:
        await asyncio.to_thread(self._state_gauges.refresh)

    async def _refresh_source_health(self) -> None:
        if self._p.source_health is not None:
            await asyncio.to_thread(self._p.source_health.refresh)

    async def _sync_states(self) -> None:
        """Pause/resume and rollout shares set by operators, within FOLLOW_S."""
        configs = {name: self._p.config.destinations[name] for name in self._p.lanes}
        found = await self._deps.call("database", read_controls, self._p.engine, configs)
        for name, lane in self._p.lanes.items():
            lane.paused = found.states.get(name) == "paused"
            metrics.PAUSED.labels(name).set(1 if lane.paused else 0)
        self._shares = found.shares
        for name, share in self._shares.items():
            metrics.ROLLOUT_SHARE.labels(name).set(share)


def _prime_counters(parts: RunnerParts) -> None:
    """Label sets alert rules take increase() of are shown at 0 from the start: a series that first
    appears at 1 shows Prometheus no increase, and the first event would go unnoticed."""
    metrics.ALERTS.labels("severe", "escalation")
    metrics.ALERTS.labels("severe", "credentials_rejected")
    for dependency in ("registry", "database"):
        metrics.DEPENDENCY_UP.labels(dependency).set(1)
    for table in parts.routes:
        metrics.CONTRACT_VIOLATIONS.labels(table)
        metrics.EVENTS.labels(table)  # CdcSyncChangesNotConsumed compares it with the CRM's rows
    for destination in parts.lanes:
        metrics.DELIVERIES.labels(destination, "ok")
        metrics.RETRIES.labels(destination)
        for ended in ("succeeded", "failed"):
            metrics.RETRIED_DELIVERIES.labels(destination, ended)


def _count(plan: EventPlan) -> None:
    for destination in plan.echoes:
        metrics.ECHOES_SUPPRESSED.labels(destination).inc()
    for destination in plan.outside_rollout:
        metrics.OUTSIDE_ROLLOUT.labels(destination).inc()
    for field_name in plan.unknown_enums:
        metrics.UNKNOWN_ENUM_VALUES.labels(field_name).inc()
    for destination, _tag in plan.rejected_tags:
        metrics.REJECTED_TAGS.labels(destination).inc()


def _letter(event: ChangeEvent, rejection: Rejection) -> DeadLetter:
    kind = "contract_violation" if rejection.contract else "rejected"
    metrics.DEAD_LETTERS.labels(rejection.destination or "", kind).inc()
    if rejection.contract:
        metrics.CONTRACT_VIOLATIONS.labels(event.table).inc()
    return DeadLetter(
        reason=rejection.reason,
        source=event.source,
        table=event.table,
        entity=event.entity,
        destination=rejection.destination,
        payload=event.model_dump(mode="json"),
    )
