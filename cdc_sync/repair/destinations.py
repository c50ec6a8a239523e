"""`destinations pause|resume`: manual pause, and resume that replays the held queue in order.

Replay is sequential in queue order and keeps each delivery's idempotency key, so a vendor that
already applied one (say, it answered too slowly) does not apply it twice. If the destination
fails again during replay, the replay stops where it is and the destination stays paused.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.delivery.durable import HaltingHooks, ReplayHalted
from cdc_sync.delivery.sender import Lane
from cdc_sync.errors import ConfigError
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


def _require(config: AppConfig, name: str) -> None:
    if name not in config.destinations:
        raise ConfigError(
            f"no destination named {name!r}; configured: {', '.join(config.destinations) or 'none'}"
        )


def pause(engine: Engine, config: AppConfig, name: str, actor: str, reason: str) -> None:
    _require(config, name)
    before = destinations.set_state(engine, name, "paused", reason)
    audit(engine, actor, "destination.pause", f"destination:{name}", before, "paused", {"reason": reason})


async def resume(
    engine: Engine, config: AppConfig, name: str, actor: str, progress: Callable[[int], None] = lambda _: None
) -> ResumeReport:
    _require(config, name)
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
    """Send the held queue in order until it is empty, then activate (atomically with the check).
    Each delivery's ledger rows are written before it leaves the queue: a kill -9 in between sends
    it again (same idempotency key), never leaves an acknowledged effect without its ledger row."""
    replayed = 0
    while not destinations.activate_if_empty(engine, name, f"resumed by {actor}"):
        for seq, delivery in destinations.held(engine, name):
            await lane.deliver(delivery)
            ledger.flush()
            destinations.release(engine, [seq])
            replayed += 1
            progress(1)
    return replayed
