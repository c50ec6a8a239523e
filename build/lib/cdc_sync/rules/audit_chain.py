"""The audit log's hash chain, pure: each row's hash covers its contents and the hash of the row
before it, so a changed, removed or inserted row breaks the chain where it is.

With a key (`CDC_SYNC_AUDIT_KEY`) the hash is an HMAC: whoever can write the table but lacks the
key (the database's owner, say) cannot forge a row that verifies. Without one it is a plain
SHA-256, which still shows edits made without recomputing the chain.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

KEYED, PLAIN = "hmac-sha256:", "sha256:"
FIELDS = ("actor", "action", "object", "before", "after", "details")


def plain_json(value: Any) -> Any:
    """The value as PostgreSQL's jsonb gives it back (what the hash must cover)."""
    return None if value is None else json.loads(json.dumps(value, default=str))


def link_hash(key: bytes | None, prev: str | None, at: datetime, entry: Mapping[str, Any]) -> str:
    body = [prev, at.astimezone(UTC).isoformat(), *(entry.get(name) for name in FIELDS)]
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if key is None:
        return PLAIN + hashlib.sha256(message).hexdigest()
    return KEYED + hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Break:
    row_id: int
    reason: str


@dataclass(frozen=True)
class Verdict:
    rows: int  # chained rows checked
    first_id: int | None
    last_id: int | None
    before_chain: int  # rows older than the chain (written before it existed)
    breaks: tuple[Break, ...]


@dataclass
class _Walk:
    key: bytes | None
    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    last_hash: str | None = None
    before_chain: int = 0

    def check(self, row: Mapping[str, Any]) -> str | None:
        if row["hash"] is None:
            if self.first_id is None:
                self.before_chain += 1
                return None
            return "not chained: written outside cdc-sync"
        reason = None
        if self.first_id is not None and row["prev_hash"] != self.last_hash:
            reason = "the row before it in the chain is missing or was changed"
        elif link_hash(self.key, row["prev_hash"], row["at"], row) != row["hash"]:
            reason = _mismatch(self.key, row["hash"])
        self.rows += 1
        self.first_id = row["id"] if self.first_id is None else self.first_id
        self.last_id, self.last_hash = row["id"], row["hash"]
        return reason


def _mismatch(key: bytes | None, found: str) -> str:
    if key is None and found.startswith(KEYED):
        return "its hash is keyed: set CDC_SYNC_AUDIT_KEY to verify it"
    return "its contents do not match its hash (changed, or forged without the key)"


def verify(rows: Iterable[Mapping[str, Any]], key: bytes | None, most: int = 20) -> Verdict:
    """Walk the rows in id order; the oldest chained row is the anchor (older ones were pruned)."""
    walk, breaks = _Walk(key), list[Break]()
    for row in rows:
        reason = walk.check(row)
        if reason is not None and len(breaks) < most:
            breaks.append(Break(int(row["id"]), reason))
    return Verdict(walk.rows, walk.first_id, walk.last_id, walk.before_chain, tuple(breaks))
