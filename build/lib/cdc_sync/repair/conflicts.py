"""Resolving a conflict, whichever kind: a vendor write the CRM did not take (decided in the
CRM row) or a CRM correction the vendor refused (sent again, or let stand). The CLI and the
console both call this."""

import asyncio
from typing import Any

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.repair.corrections import resolve_correction
from cdc_sync.store.conflicts import CRM_CORRECTION, Keep, get_conflict, resolve


async def resolve_conflict(
    engine: Engine, config: AppConfig, conflict_id: int, keep: Keep, actor: str
) -> Any:
    """The value kept (audited)."""
    conflict = await asyncio.to_thread(get_conflict, engine, conflict_id)
    if conflict["kind"] == CRM_CORRECTION:
        return await resolve_correction(engine, config, conflict_id, keep, actor)
    return await asyncio.to_thread(resolve, engine, conflict_id, keep, actor)
