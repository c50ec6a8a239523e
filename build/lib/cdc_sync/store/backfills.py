"""Backfill cursors (SQL): each page of vendor events goes into the inbox together with the
position after it, so a backfill resumes exactly after the last page it stored."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from cdc_sync.model.inbound import InboundEvent
from cdc_sync.store.inbox import put_many_in
from cdc_sync.store.tables import backfill_cursors


@dataclass(frozen=True)
class Cursor:
    position: str
    since: datetime | None
    pages: int
    records: int
    started_at: datetime


def position(engine: Engine, name: str) -> Cursor | None:
    """Where the backfill `name` stopped, or None when none is under way."""
    with engine.connect() as conn:
        row = conn.execute(select(backfill_cursors).where(backfill_cursors.c.name == name)).mappings().first()
    if row is None:
        return None
    return Cursor(row["position"], row["since"], row["pages"], row["records"], row["started_at"])


def store_page(
    engine: Engine, name: str, events: list[InboundEvent], after: str, records: int, since: datetime | None
) -> int:
    """The page's events into the inbox and the cursor to `after`, in one transaction; returns
    how many events were new (an event id already in the inbox is not stored twice)."""
    values = {"name": name, "position": after, "since": since, "pages": 1, "records": records}
    upsert = insert(backfill_cursors).values(**values)
    upsert = upsert.on_conflict_do_update(
        index_elements=[backfill_cursors.c.name],
        set_={
            "position": after,
            "pages": backfill_cursors.c.pages + 1,
            "records": backfill_cursors.c.records + records,
            "updated_at": func.now(),
        },
    )
    with engine.begin() as conn:
        stored = put_many_in(conn, events) if events else []
        conn.execute(upsert)
    return len(stored)


def forget(engine: Engine, name: str) -> None:
    """The backfill is complete (or restarted): the next one starts from its `--since`."""
    with engine.begin() as conn:
        conn.execute(delete(backfill_cursors).where(backfill_cursors.c.name == name))
