"""Poison records as dead letters: a record that cannot become a change is kept whole (key and
value bytes, headers, schema id, where it was read), so `dlq show` has it after Kafka's retention
dropped it and `dlq replay` can decode it again once the cause is fixed (say, its schema is
registered). PostgreSQL refuses NUL in text, so the reason is cleaned of it."""

import base64
from typing import Any

from cdc_sync.errors import CdcSyncError
from cdc_sync.outbound.envelope import RawMessage, split_wire_format
from cdc_sync.store.dead_letters import DeadLetter

RECORD_FIELDS = frozenset({"topic", "partition", "offset", "key_b64", "value_b64", "headers"})


def poison_letter(raw: RawMessage, exc: Exception) -> DeadLetter:
    try:
        schema_id: int | None = split_wire_format(raw.value or b"")[0]
    except Exception:
        schema_id = None
    reason = f"undecodable record {raw.topic}/{raw.partition}@{raw.offset}: {exc}".replace("\x00", "")
    payload = {
        "topic": raw.topic,
        "partition": raw.partition,
        "offset": raw.offset,
        "schema_id": schema_id,
        "error": f"{type(exc).__name__}: {exc}".replace("\x00", ""),
        "key_b64": _b64(raw.key),
        "value_b64": _b64(raw.value),
        "headers": [[name, _b64(value)] for name, value in raw.headers],
    }
    return DeadLetter(reason=reason[:2000], source=None, payload=payload)


def stored_record(payload: dict[str, Any]) -> RawMessage:
    """The record a poison letter keeps, as it came off the wire."""
    try:
        headers = tuple((str(name), _bytes(value)) for name, value in payload["headers"])
        return RawMessage(
            str(payload["topic"]),
            int(payload["partition"]),
            int(payload["offset"]),
            _bytes(payload["key_b64"]),
            _bytes(payload["value_b64"]),
            headers,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CdcSyncError(f"the stored record is malformed: {type(exc).__name__}: {exc}") from None


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)
