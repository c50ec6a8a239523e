"""What a sandbox remembers: the request log (the last N requests, numbered from the last reset),
the idempotency store, how many times each change was applied (the number a duplicate delivery
shows up in) and the notifications it was sent."""

import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson

from cdc_sync.sandbox.bodies import exact
from cdc_sync.sandbox.effects import EffectLedger
from cdc_sync.sandbox.faults import Clock

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

MASKED_HEADERS = frozenset({"authorization"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COMPRESS_FROM = 16 * 1024  # stored answers this large are kept deflated: batch answers are big


def iso_utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, None when it is anything else."""
    body = decoded_body(raw)
    return body if isinstance(body, dict) else None


def decoded_body(raw: bytes) -> Any:
    """Parsed JSON when the body is JSON, its text otherwise; None when empty."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Incoming:
    """A vendor request as it arrived: header names lower-cased, repeated headers joined."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def changes_state(self) -> bool:
        return self.method not in READ_METHODS

    @property
    def target(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class RecordedRequest:
    """Kept as received; the body is parsed and the time formatted only when someone asks."""

    incoming: Incoming
    idempotency_key: str | None
    received_at: float
    status: int | None = None  # None until answered, and for ever when the connection was dropped

    def as_json(self) -> dict[str, Any]:
        incoming = self.incoming
        headers = {
            name: "****" if name in MASKED_HEADERS else value for name, value in incoming.headers.items()
        }
        return {
            "method": incoming.method,
            "path": incoming.path,
            "query": incoming.query,
            "headers": headers,
            "idempotency_key": self.idempotency_key,
            "body": decoded_body(incoming.body),
            "time": iso_utc(self.received_at),
            "status": self.status,
        }


class RequestLog:
    """The newest requests, at most `limit` of them and about `max_bytes` of bodies, numbered
    from 0 since the last reset: a reader's `since` stays valid when old entries are dropped."""

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.limit, self.max_bytes = limit, max_bytes
        self._entries: deque[RecordedRequest] = deque()
        self._first = 0  # the number of `_entries[0]`
        self._bytes = 0

    @property
    def total(self) -> int:
        return self._first + len(self._entries)

    def append(self, entry: RecordedRequest) -> None:
        self._entries.append(entry)
        self._bytes += len(entry.incoming.body)
        while len(self._entries) > 1 and (len(self._entries) > self.limit or self._bytes > self.max_bytes):
            self._bytes -= len(self._entries.popleft().incoming.body)
            self._first += 1

    def since(self, index: int) -> list[RecordedRequest]:
        return list(islice(self._entries, max(index - self._first, 0), None))

    def clear(self) -> None:
        self._entries.clear()
        self._first = self._bytes = 0


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class PackedResponse:
    """A stored answer as replay needs it, large bodies deflated."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    deflated: bool

    @classmethod
    def of(cls, response: StoredResponse) -> "PackedResponse":
        deflate = len(response.body) >= COMPRESS_FROM
        body = zlib.compress(response.body, 1) if deflate else exact(response.body)
        return cls(response.status, tuple(response.headers), body, deflate)

    def unpacked(self) -> StoredResponse:
        body = zlib.decompress(self.body) if self.deflated else self.body
        return StoredResponse(self.status, list(self.headers), body)


@dataclass
class Recorder:
    clock: Clock
    log: RequestLog
    effects: EffectLedger = field(default_factory=EffectLedger)
    notifications: list[Any] = field(default_factory=list)
    _responses: dict[str, PackedResponse] = field(default_factory=dict)

    def record(self, incoming: Incoming, idempotency_key: str | None) -> RecordedRequest:
        entry = RecordedRequest(incoming, idempotency_key, self.clock())
        self.log.append(entry)
        return entry

    def since(self, index: int) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.log.since(index)]

    def replay(self, incoming: Incoming, idempotency_key: str | None) -> StoredResponse | None:
        """The stored answer when this key already changed something; reads are never replayed."""
        if idempotency_key is None or not incoming.changes_state:
            return None
        packed = self._responses.get(idempotency_key)
        return None if packed is None else packed.unpacked()

    def applied(
        self, incoming: Incoming, idempotency_key: str | None, response: StoredResponse, per_item: bool
    ) -> None:
        """Remember a change the vendor made: only successful state-changing requests count, and
        batch requests count their items themselves."""
        if not (incoming.changes_state and response.succeeded):
            return
        if idempotency_key is not None:
            self._responses[idempotency_key] = PackedResponse.of(response)
        if not per_item:
            self.effects.count(idempotency_key, incoming.target)

    def clear(self) -> None:
        self.log.clear()
        self.effects.clear()
        self.notifications.clear()
        self._responses.clear()


def recorder_for(settings: "SandboxSettings", clock: Clock) -> Recorder:
    return Recorder(clock, RequestLog(settings.request_log_limit, settings.request_log_bytes))
