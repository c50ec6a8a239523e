"""The webhook app in-process (httpx over ASGI) on the stack's PostgreSQL inbox, one request at a
time, with the inbox's rows counted after every answer.

The app is `create_app` over the same inbox as `cdc-sync serve` (`InboxBatcher` over `StoreInbox`);
only the signature-alert sink is in memory, so forged requests do not fill the shared alerts table.
Requests go one at a time, so the rows that appear while one is answered are that request's.
"""

import asyncio
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import orjson
from sqlalchemy import Engine, text

from bench.fuzz.tally import Observation
from bench.fuzz.webhooks import Case, signed
from cdc_sync.inbound.app import create_app
from cdc_sync.inbound.assembly import StoreInbox
from cdc_sync.inbound.batcher import InboxBatcher
from cdc_sync.inbound.sources import SourceConfig

_ROWS_SINCE = text("SELECT count(*), coalesce(max(id), :after) FROM cdc_sync.inbox WHERE id > :after")
_LAST_ID = text("SELECT coalesce(max(id), 0) FROM cdc_sync.inbox")
_FORGET = text("DELETE FROM cdc_sync.inbox WHERE id > :after")


class LogCapture(logging.Handler):
    """What cdc-sync logged while one request was answered (warnings and worse)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def drain(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records


def capture_logs() -> LogCapture:
    """Route cdc-sync's log to a capture instead of the terminal (a 5xx's cause is in it)."""
    capture = LogCapture()
    package = logging.getLogger("cdc_sync")
    package.addHandler(capture)
    package.propagate = False
    return capture


def _logged(records: list[logging.LogRecord]) -> tuple[bool, str, str]:
    """(an unexpected exception was logged, a one-line cause, the whole text)."""
    texts = [record.getMessage() for record in records]
    crashes = [record for record in records if record.exc_info]
    for record in crashes:
        texts.append("".join(traceback.format_exception(*record.exc_info)))  # type: ignore[misc]
    if crashes and crashes[0].exc_info and crashes[0].exc_info[1] is not None:
        exc = crashes[0].exc_info[1]
        return True, f"{type(exc).__name__}: {exc}".splitlines()[0], "\n".join(texts)
    cause = texts[0].splitlines()[0] if texts else ""
    return False, cause, "\n".join(texts)


@dataclass
class InboxRows:
    """The inbox's rows added since the fuzz run began (it holds the stack's lock: they are ours)."""

    engine: Engine
    first_after: int = 0
    last_id: int = 0

    def start(self) -> None:
        with self.engine.connect() as conn:
            self.first_after = self.last_id = int(conn.execute(_LAST_ID).scalar_one())

    def added(self) -> int:
        with self.engine.connect() as conn:
            count, last = conn.execute(_ROWS_SINCE, {"after": self.last_id}).one()
        self.last_id = int(last)
        return int(count)

    def forget(self) -> int:
        """Delete this run's rows, so no writer ever applies a fuzz event; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(_FORGET, {"after": self.first_after}).rowcount


@dataclass
class FrontDoorRig:
    sources: Mapping[str, SourceConfig]
    secrets: Mapping[str, str]
    client: httpx.AsyncClient
    rows: InboxRows
    logs: LogCapture
    alerts: list[tuple[str, str]] = field(default_factory=list)
    last_sent: dict[str, str] = field(default_factory=dict)  # the last request's URL and headers

    async def observe(self, case: Case) -> Observation:
        parts = signed(case, self.sources[case.source].scheme, self.secrets[case.source], time.time())
        url = f"/webhooks/{case.source}{case.path_suffix}" + (f"?{parts.query}" if parts.query else "")
        self.logs.drain()
        secret = self.secrets[case.source]
        sent = {"url": url, **{k.decode(): v.decode("utf-8", "replace") for k, v in parts.headers}}
        self.last_sent = {name: value.replace(secret, "<secret>") for name, value in sent.items()}
        try:
            response = await self.client.request(case.method, url, content=case.body, headers=parts.headers)
        except Exception as exc:  # the app let an exception out: the server would answer 500
            error = traceback.format_exc()
            return Observation(
                None, self.rows.added(), case.authentic, crashed=True, cause=repr(exc), error=error
            )
        crashed, cause, logged = _logged(self.logs.drain())
        return Observation(
            response.status_code,
            self.rows.added(),
            case.authentic,
            accepted=_accepted(response),
            crashed=crashed,
            cause=cause if response.status_code >= 500 or crashed else "",
            error=logged or (response.text[:1000] if response.status_code >= 500 else ""),
        )


def _accepted(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        return bool(orjson.loads(response.content).get("status") == "accepted")
    except (orjson.JSONDecodeError, AttributeError):
        return False


def front_door(engine: Engine, sources: Mapping[str, SourceConfig], logs: LogCapture) -> FrontDoorRig:
    """The app as `cdc-sync serve` builds it, over the real inbox."""
    alerts: list[tuple[str, str]] = []

    async def on_rejected(source: str, kind: str, reason: str) -> None:
        alerts.append((source, reason))

    async def ready() -> bool:
        return True

    app = create_app(sources, InboxBatcher(StoreInbox(engine).put_many), on_rejected=on_rejected, ready=ready)
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://fuzz.test")
    secrets = {name: config.secrets()[0].get_secret_value() for name, config in sources.items()}
    rows = InboxRows(engine)
    rows.start()
    return FrontDoorRig(sources, secrets, client, rows, logs, alerts)


def run_sync(loop: asyncio.Runner, rig: FrontDoorRig, case: Case) -> Observation:
    return loop.run(rig.observe(case))
