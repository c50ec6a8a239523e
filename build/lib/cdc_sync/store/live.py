"""Live notices over PostgreSQL: the writer NOTIFYs them inside its transaction (so only
committed writes are announced) and every `cdc-sync serve` LISTENs and hands them to its
followers. One channel carries every notice with its own channel name inside."""

import logging
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from cdc_sync.model.writes import Notice
from cdc_sync.store.listen import listen_forever

log = logging.getLogger(__name__)

LIVE_CHANNEL = "cdc_sync_live"
MAX_MESSAGE = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
_NOTIFY = text("SELECT pg_notify(:channel, :message)")


def announce(conn: Connection, notice: Notice) -> None:
    """In the caller's transaction; a notice too large to send is logged and dropped, never fatal."""
    message = orjson.dumps({"channel": notice.channel, "data": notice.payload}).decode()
    if len(message.encode()) > MAX_MESSAGE:
        log.warning("live notice on %s dropped: %d bytes", notice.channel, len(message))
        return
    conn.execute(_NOTIFY, {"channel": LIVE_CHANNEL, "message": message})


async def follow(engine: Engine, deliver: Callable[[str, dict[str, Any]], None]) -> None:
    """Every committed notice to `deliver(channel, data)`, until cancelled."""

    def decoded(message: str) -> None:
        body = orjson.loads(message)
        deliver(str(body["channel"]), dict(body["data"]))

    await listen_forever(engine, LIVE_CHANNEL, decoded)
