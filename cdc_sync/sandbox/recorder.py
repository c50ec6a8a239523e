"""What a sandbox remembers: the request log, the idempotency store, how many times each change
was applied (the number a duplicate delivery shows up in) and the notifications it was sent."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cdc_sync.sandbox.faults import Clock

MASKED_HEADERS = frozenset({"authorization"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    idempotency_key: str | None
    body: Any
    time: str
    status: int | None = None  # None until answered, and for ever when the connection was dropped

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Recorder:
    clock: Clock
    requests: list[RecordedRequest] = field(default_factory=list)
    notifications: list[Any] = field(default_factory=list)
    _responses: dict[str, StoredResponse] = field(default_factory=dict)
    _effects: Counter[str] = field(default_factory=Counter)
    _unkeyed: Counter[str] = field(default_factory=Counter)

    def log(self, incoming: Incoming, idempotency_key: str | None) -> RecordedRequest:
        headers = {
            name: "****" if name in MASKED_HEADERS else value for name, value in incoming.headers.items()
        }
        entry = RecordedRequest(
            method=incoming.method,
            path=incoming.path,
            query=incoming.query,
            headers=headers,
            idempotency_key=idempotency_key,
            body=decoded_body(incoming.body),
            time=iso_utc(self.clock()),
        )
        self.requests.append(entry)
        return entry

    def since(self, index: int) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.requests[index:]]

    def replay(self, incoming: Incoming, idempotency_key: str | None) -> StoredResponse | None:
        """The stored answer when this key already changed something; reads are never replayed."""
        if idempotency_key is None or not incoming.changes_state:
            return None
        return self._responses.get(idempotency_key)

    def applied(self, incoming: Incoming, idempotency_key: str | None, response: StoredResponse) -> None:
        """Remember a change the vendor made: only successful state-changing requests count."""
        if not (incoming.changes_state and response.succeeded):
            return
        if idempotency_key is not None:
            self._responses[idempotency_key] = response
        self._effects[idempotency_key or self._unkeyed_name(incoming)] += 1

    def _unkeyed_name(self, incoming: Incoming) -> str:
        target = f"{incoming.method} {incoming.path}"
        self._unkeyed[target] += 1
        return f"{target} #{self._unkeyed[target]}"

    def effects(self) -> dict[str, Any]:
        return {"effects": dict(self._effects), "total": self._effects.total()}

    def clear(self) -> None:
        for store in (self.requests, self.notifications, self._responses, self._effects, self._unkeyed):
            store.clear()
