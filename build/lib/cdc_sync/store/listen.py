"""LISTEN on a PostgreSQL channel for as long as the caller runs: every NOTIFY payload to a
callback. After a lost connection it reconnects; an outage is logged when it starts and when it
ends, not at every attempt. NOTIFY is transactional: a payload arrives only once its transaction
commits, and never for one rolled back."""

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)


async def listen_forever(
    engine: Engine,
    channel: str,
    on_payload: Callable[[str], None],
    on_connected: Callable[[], None] = lambda: None,
    retry_s: float = 1.0,
) -> None:
    """Until cancelled. `on_connected` runs after every (re)connection: what was sent meanwhile
    was missed, so a caller that must not miss anything looks for itself then."""
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    failing = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {channel}")
                if failing:
                    log.warning("listening on %s again", channel)
                failing = False
                on_connected()
                async for notify in conn.notifies():
                    on_payload(notify.payload)
        except psycopg.Error as exc:
            if not failing:
                log.warning("listening on %s failed (%s); retrying until it reconnects", channel, exc)
            failing = True
            await asyncio.sleep(retry_s)
