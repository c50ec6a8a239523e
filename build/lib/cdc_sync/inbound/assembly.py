"""Builds the inbound service: the webhook app over the durable inbox, and the writer."""

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.console.app import Console, create_console
from cdc_sync.inbound.app import Admission, create_app
from cdc_sync.inbound.batcher import InboxBatcher, new_per_event
from cdc_sync.inbound.live import LiveHub, add_live_events
from cdc_sync.inbound.writer import Writer
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.observability import metrics
from cdc_sync.observability.state_gauges import StateGauges, refresh_forever
from cdc_sync.store import alerts, health, inbox, live
from cdc_sync.vendors.registry import ADMISSIONS, CHANNELS


@dataclass(frozen=True)
class StoreInbox:
    """Group commit over PostgreSQL: one batch of events, one statement, one transaction."""

    engine: Engine

    async def put_many(self, events: Sequence[InboundEvent]) -> list[bool]:
        inserted = await asyncio.to_thread(inbox.put_many, self.engine, events)
        return new_per_event([(e.source, e.event_id) for e in events], inserted)


def build_writer(engine: Engine, config: AppConfig) -> Writer:
    systems = {name: source.system for name, source in config.sources.items()}
    return Writer(engine, systems, config.authority, wakeup=partial(inbox.wake_on_insert, engine))


def admissions(config: AppConfig) -> dict[str, Admission]:
    """Per served source, its vendor's check that a signed event is for an account of ours."""
    return {name: ADMISSIONS[name](config.destinations) for name in config.sources if name in ADMISSIONS}


def build_app(
    engine: Engine, config: AppConfig, events_token: str | None = None, console: Console | None = None
) -> FastAPI:
    """The webhook app; with live events (`GET /events/{channel}`) behind `events_token`, and the
    operator console at `/console` when given."""

    async def on_rejected(source: str, kind: str, reason: str) -> None:
        message = f"webhook from {source} rejected: {reason}"
        await asyncio.to_thread(alerts.record_repeated_alert, engine, "warning", kind, message, source)
        metrics.ALERTS.labels("warning", kind).inc()

    async def ready() -> bool:
        return await asyncio.to_thread(health.unreachable, engine) is None

    batcher = InboxBatcher(StoreInbox(engine).put_many)
    app = create_app(
        config.sources,
        batcher,
        on_rejected=on_rejected,
        ready=ready,
        admissions=admissions(config),
        openapi=config.server.openapi,
    )
    for source in config.sources:  # at 0 from the start, so the first forged request is an increase
        metrics.WEBHOOK_SIGNATURE_FAILURES.labels(source)
    hub = LiveHub(CHANNELS)
    add_live_events(app, hub, events_token)
    if console is not None:
        app.mount("/console", create_console(console))
    chores = (refresh_forever(StateGauges(engine, config.destinations)), live.follow(engine, hub.deliver))
    return _with_chores(app, chores, batcher)


def _with_chores(app: FastAPI, chores: Sequence[Coroutine[Any, Any, None]], batcher: InboxBatcher) -> FastAPI:
    """While the app runs: refresh DLQ depth and slot lag (so serve's /metrics has them too) and
    follow the live notices; stop the inbox batcher once the server has answered its last request."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: Any) -> AsyncIterator[Any]:
        tasks = [asyncio.create_task(chore) for chore in chores]
        try:
            async with inner(running) as state:
                yield state
        finally:
            for task in tasks:
                task.cancel()
            await batcher.close()

    app.router.lifespan_context = lifespan
    return app
