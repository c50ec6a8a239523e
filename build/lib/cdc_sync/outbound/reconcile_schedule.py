"""Reconciliation inside `cdc-sync run`: a `Reconciler` pass every `[reconcile] interval_s`.

Part of the outbound service's assembly, so the live service depends on the reconciler only
here, and only when the config asks for passes.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Protocol

from cdc_sync.config import AppConfig
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.repair.reconcile import DestinationReport
from cdc_sync.repair.reconciler import Reconciler, ReconcileRequest
from cdc_sync.settings import Settings

SCHEDULED_ACTOR = "cdc-sync run (scheduled reconcile)"
log = logging.getLogger(__name__)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _outcome(report: DestinationReport) -> str:
    if not report.reconcilable:
        return report.note or "not reconcilable"
    counts = ", ".join(f"{result} {count}" for result, count in report.counts.items())
    fixed = f"; fixed {report.fix.fixed}, {report.fix.remaining} left" if report.fix else ""
    fixed = f"; not fixed: {report.fix.note}" if report.fix and report.fix.note else fixed
    return f"{counts}; difference rate {report.difference_rate:.4%}{fixed}"


class Passes(Protocol):
    """What the schedule drives (a `Reconciler`)."""

    config: AppConfig

    async def run(self, request: ReconcileRequest) -> list[DestinationReport]: ...


async def reconcile_forever(reconciler: Passes, stop: asyncio.Event) -> None:
    """A pass every `reconcile.interval_s` (the first one interval after start, so the runner has
    had time to catch up), each destination on its own: a failing vendor is logged, not fatal.
    Changes still in flight can show as differences; a fix then pushes the current rows again."""
    settings = reconciler.config.reconcile
    interval = settings.interval_s or 0.0
    while not await _stopped(stop, interval):
        for name in reconciler.config.destinations:
            request = ReconcileRequest((name,), settings.fix, settings.sample, SCHEDULED_ACTOR)
            try:
                (report,) = await reconciler.run(request)
            except Exception:
                log.exception("scheduled reconciliation of %s failed; next pass in %gs", name, interval)
                continue
            log.info("reconciled %s: %s", name, _outcome(report))


@asynccontextmanager
async def scheduled_reconcile(
    settings: Settings, config: AppConfig, stop: asyncio.Event
) -> AsyncIterator[None]:
    """Runs `reconcile_forever` beside the body when `[reconcile] interval_s` is set."""
    if config.reconcile.interval_s is None:
        yield
        return
    engine = state_engine(settings, "runner")
    task = asyncio.create_task(reconcile_forever(Reconciler(engine, config, settings.topic_prefix), stop))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        engine.dispose()
