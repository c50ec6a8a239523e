"""One operator action per destination at a time.

`destinations resume`, `dlq replay` and reconcile fixes each send a destination's deliveries
outside the live stream. Two at once would send the same delivery twice before either recorded
it, or reorder one entity's changes, so each takes its destinations' locks first: PostgreSQL
session advisory locks, released when the action ends or its connection dies (kill -9 included).
"""

import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, func, select

from cdc_sync.errors import DestinationBusy

_NAMESPACE = 0x0CDC6  # beside migrate's 0x0CDC5
BUSY = "is busy: another `destinations resume`, `dlq replay` or reconcile fix is sending to it"


def lock_key(destination: str) -> int:
    """A destination's lock id within the namespace (a signed 32-bit int, as PostgreSQL takes)."""
    unsigned = zlib.crc32(destination.encode())
    return unsigned - (1 << 32) if unsigned >= 1 << 31 else unsigned


@contextmanager
def destination_locks(engine: Engine, names: Iterable[str]) -> Iterator[None]:
    """Hold every named destination's lock, or raise `DestinationBusy` naming the one that is busy."""
    with engine.connect() as conn:
        taken: list[str] = []
        try:
            for name in sorted(set(names)):
                if not _take(conn, name):
                    raise DestinationBusy(f"destination {name} {BUSY}; try again when it is done")
                taken.append(name)
            yield
        finally:
            for name in taken:
                conn.execute(select(func.pg_advisory_unlock(_NAMESPACE, lock_key(name))))


def _take(conn: Connection, name: str) -> bool:
    return bool(conn.execute(select(func.pg_try_advisory_lock(_NAMESPACE, lock_key(name)))).scalar_one())
