"""Pruning cdc-sync's own tables by the `[retention]` rules, batch by batch, with progress and
the rows-pruned metric; `cdc-sync prune` and the schedule inside `run` both call this."""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cdc_sync.config import RetentionConfig
from cdc_sync.observability.metrics import ROWS_PRUNED
from cdc_sync.store.retention import RULES, count_prunable, prune_batch

log = logging.getLogger(__name__)
Progress = Callable[[str, int], None]  # (table, rows just removed)


def cutoffs(retention: RetentionConfig, now: datetime) -> dict[str, datetime]:
    """table → the time before which its prunable rows go (tables without a limit are absent)."""
    found = {}
    for rule in RULES:
        days = getattr(retention, rule.setting)
        if days is not None:
            found[rule.table.name] = now - timedelta(days=days)
    return found


def prune(
    engine: Engine,
    retention: RetentionConfig,
    now: datetime,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Rows removed per table (with `dry_run`, the rows that would be)."""
    limits = cutoffs(retention, now)
    removed: dict[str, int] = {}
    for rule in (r for r in RULES if r.table.name in limits):
        cutoff, name = limits[rule.table.name], rule.table.name
        if dry_run:
            removed[name] = count_prunable(engine, rule, cutoff)
            continue
        removed[name] = 0
        while (gone := prune_batch(engine, rule, cutoff, retention.batch)) > 0:
            removed[name] += gone
            ROWS_PRUNED.labels(name).inc(gone)
            if progress:
                progress(name, gone)
            if gone < retention.batch:
                break
    return removed


async def prune_forever(engine: Engine, retention: RetentionConfig, stop: asyncio.Event) -> None:
    """Inside `run`: prune every `interval_s` until `stop`; a failed pass is logged and retried."""
    if retention.interval_s is None:
        return
    while not stop.is_set():
        try:
            removed = await asyncio.to_thread(prune, engine, retention, datetime.now(UTC))
            if any(removed.values()):
                log.info("retention pruned %s", removed)
        except SQLAlchemyError:  # a database hiccup must not stop delivery
            log.exception("retention pass failed; next pass in %.0f s", retention.interval_s)
        try:
            await asyncio.wait_for(stop.wait(), retention.interval_s)
        except TimeoutError:
            continue
