"""Debezium Server for `make bench-peer`: its slot and publication, and the running server.

The server itself is installed and launched by ops/peer/debezium-server.sh with
ops/peer/application.properties; this module gives it the CRM's own replication slot and
publication for public.contacts (created before the changes are written, so the slot keeps
them for the server to read as a backlog, and dropped afterwards).
"""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from bench.processes import ROOT, running

SCRIPT = ROOT / "ops" / "peer" / "debezium-server.sh"
SLOT = "peer_bench"
PUBLICATION = "peer_bench"


def install() -> None:
    """Download and unpack the Debezium Server dist once (cached under $CDC_SYNC_HOME/peer)."""
    subprocess.run([str(SCRIPT), "install"], check=True)


def replication_engine(admin_dsn: str) -> Engine:
    """The CRM as the `debezium` role (REPLICATION), which may create and drop slots."""
    lines = subprocess.run([str(SCRIPT), "env"], check=True, capture_output=True, text=True).stdout
    stack = dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)
    url = make_url(admin_dsn).set(username="debezium", password=stack["CDC_SYNC_DEBEZIUM_PASSWORD"])
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def slot_and_publication(crm: Engine, replication: Engine) -> Iterator[None]:
    """Publication (as crm_owner, who owns the table) and logical slot, both gone afterwards."""
    _drop(crm, replication)
    with crm.begin() as conn:
        conn.execute(text(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.contacts"))
    with replication.connect() as conn:
        conn.execute(text("SELECT pg_create_logical_replication_slot(:s, 'pgoutput')"), {"s": SLOT})
    try:
        yield
    finally:
        _drop(crm, replication)


def _drop(crm: Engine, replication: Engine, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    query = text("SELECT active FROM pg_replication_slots WHERE slot_name = :s")
    with replication.connect() as conn:
        while (active := conn.execute(query, {"s": SLOT}).scalar()) and time.monotonic() < deadline:
            time.sleep(0.5)  # the server's walsender goes a moment after the JVM
        if active is not None:
            conn.execute(text("SELECT pg_drop_replication_slot(:s)"), {"s": SLOT})
    with crm.begin() as conn:
        conn.execute(text(f"DROP PUBLICATION IF EXISTS {PUBLICATION}"))


def walsender_pid(engine: Engine, slot: str) -> int | None:
    """The PostgreSQL process decoding WAL for `slot` (None while nobody streams from it)."""
    with engine.connect() as conn:
        query = text("SELECT active_pid FROM pg_replication_slots WHERE slot_name = :s")
        pid = conn.execute(query, {"s": slot}).scalar()
    return int(pid) if pid else None


@contextmanager
def debezium_server(workdir: Path, sink_url: str, http_port: int) -> Iterator[int]:
    """Debezium Server running from `workdir` (offsets file there); yields the JVM's pid."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        PEER_SINK_URL=sink_url,
        PEER_OFFSETS_FILE=str(workdir / "offsets.dat"),
        PEER_HTTP_PORT=str(http_port),
    )
    with running([str(SCRIPT), "run", str(workdir)], workdir / "debezium-server.log") as process:
        yield process.pid
