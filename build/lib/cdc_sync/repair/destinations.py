"""`destinations pause|resume`: manual pause, and resume that replays the held queue in order.

Replay keeps queue order per entity and each delivery's idempotency key, so a vendor that
already applied one (say, it answered too slowly) does not apply it twice. Different entities
replay side by side (the lane's connection slots and batch windows, as in live delivery), a
chunk of the queue at a time: after an outage the backlog clears at the live rate, not one
request at a time. If the destination fails again during replay, the replay stops where it is
and the destination stays paused.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.delivery.durable import HaltingHooks, ReplayHalted
from cdc_sync.delivery.sender import Lane
from cdc_sync.model.delivery import Delivery
from cdc_sync.observability.notify import Notifier
from cdc_sync.outbound.assembly import build_lane
from cdc_sync.store import destinations
from cdc_sync.store.audit import audit
from cdc_sync.store.ledger import LedgerWriter
from cdc_sync.store.operator_locks import destination_locks

_HELD = "it stays paused with the rest of its queue held"


@dataclass(frozen=True)
class ResumeReport:
    replayed: int
    resumed: bool


def pause(engine: Engine, config: AppConfig, name: str, actor: str, reason: str) -> None:
    config.require_destinations([name])
    before = destinations.set_state(engine, name, "paused", reason)
    audit(engine, actor, "destination.pause", f"destination:{name}", before, "paused", {"reason": reason})


async def resume(
    engine: Engine, config: AppConfig, name: str, actor: str, progress: Callable[[int], None] = lambda _: None
) -> ResumeReport:
    config.require_destinations([name])
    ledger = LedgerWriter(engine)
    notifier = Notifier(config.notifications)
    lane = build_lane(name, config.destinations[name], HaltingHooks(engine, ledger, notifier, _HELD))
    try:
        with destination_locks(engine, [name]):
            replayed = await _replay_held(engine, name, actor, lane, ledger, progress)
    except ReplayHalted as exc:
        audit(
            engine,
            actor,
            "destination.resume",
            f"destination:{name}",
            "paused",
            "paused",
            {"error": str(exc)},
        )
        raise
    finally:
        ledger.flush()
        await lane.destination.aclose()
        await notifier.aclose()
    audit(
        engine, actor, "destination.resume", f"destination:{name}", "paused", "active", {"replayed": replayed}
    )
    return ResumeReport(replayed, True)


async def _replay_held(
    engine: Engine, name: str, actor: str, lane: Lane, ledger: LedgerWriter, progress: Callable[[int], None]
) -> int:
    """Send the held queue until it is empty, then activate (atomically with the check)."""
    replayed = 0
    while not destinations.activate_if_empty(engine, name, f"resumed by {actor}"):
        replayed += await _replay_chunk(engine, lane, ledger, destinations.held(engine, name), progress)
    return replayed


async def _replay_chunk(
    engine: Engine,
    lane: Lane,
    ledger: LedgerWriter,
    chunk: Sequence[tuple[int, Delivery]],
    progress: Callable[[int], None],
) -> int:
    """One chunk, in order per entity. What was delivered leaves the queue only after its ledger
    rows are written, so a kill -9 in between sends it again (same idempotency key) and never
    leaves an acknowledged effect without its ledger row. A halt cancels the rest of the chunk:
    those stay held."""
    done: list[int] = []

    async def in_order(items: list[tuple[int, Delivery]]) -> None:
        for seq, delivery in items:
            await lane.deliver(delivery)
            done.append(seq)
            progress(1)

    try:
        async with asyncio.TaskGroup() as group:
            for items in by_entity(chunk).values():
                group.create_task(in_order(items))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure (a halt) is the replay's
    finally:
        ledger.flush()
        destinations.release(engine, done)
    return len(done)


def by_entity(chunk: Sequence[tuple[int, Delivery]]) -> dict[str, list[tuple[int, Delivery]]]:
    """The chunk split per entity, each in queue order."""
    groups: dict[str, list[tuple[int, Delivery]]] = {}
    for seq, delivery in chunk:
        groups.setdefault(delivery.entity, []).append((seq, delivery))
    return groups
