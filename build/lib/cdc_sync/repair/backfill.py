"""Backfill from a vendor: its history read page by page through the vendor's `Backfill` port,
each page's events stored in the inbox together with the position after it (one transaction).
The writer merges them through the same handlers and authority rules as live events, behind
them (priority DEFERRABLE); an event id the inbox already has is not stored twice, so a change
that came by webhook, or a page read again, merges once. Killed at any point, a backfill
resumes after the last page it stored; complete, its cursor is forgotten."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from cdc_sync.delivery.ratelimit import RateLimiter
from cdc_sync.model.config import DestinationConfig
from cdc_sync.repair.readers import VendorApi
from cdc_sync.store import backfills
from cdc_sync.vendors.plugin import Backfill, BackfillStart, ReadApi

Progress = Callable[[int, int | None], None]  # (records just read, all to read when known)


@dataclass
class BackfillReport:
    name: str
    since: datetime
    resumed_after: str | None  # the position an interrupted backfill went on from
    pages: int = 0
    records: int = 0  # read from the vendor
    events: int = 0  # of those, ones that carry something to merge
    stored: int = 0  # of those, new to the inbox (the rest it had already)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "since": self.since.isoformat()}


class PacedApi:
    """A ReadApi that waits between calls: `per_minute` at most, on top of the destination's pace."""

    def __init__(self, api: ReadApi, per_minute: float) -> None:
        self._api, self._pace = api, RateLimiter(per_minute / 60)

    async def get(
        self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        await self._pace.acquire()
        return await self._api.get(path, params, missing_ok)

    async def aclose(self) -> None:
        await self._api.aclose()


async def run_backfill(
    engine: Engine,
    name: str,
    api: ReadApi,
    config: DestinationConfig,
    backfill: Backfill,
    start: BackfillStart,
    progress: Progress,
) -> BackfillReport:
    """Read from `start` (or after the position an interrupted run under `name` stored, with that
    run's `since`) to the end; every page stored with its position before the next is read."""
    cursor = backfills.position(engine, name)
    if cursor is not None:
        start = BackfillStart(cursor.since or start.since, cursor.position, start.page_size)
    report = BackfillReport(name, start.since, start.after)
    began = time.monotonic()
    async for page in backfill.pages(api, config, start):
        events = list(page.events)
        report.stored += backfills.store_page(engine, name, events, page.after, page.records, start.since)
        report.pages += 1
        report.records += page.records
        report.events += len(events)
        progress(page.records, page.total)
    backfills.forget(engine, name)
    report.seconds = round(time.monotonic() - began, 3)
    return report


def open_api(destination: str, config: DestinationConfig, per_minute: float) -> PacedApi:
    return PacedApi(VendorApi(destination, config), per_minute)
