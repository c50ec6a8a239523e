"""Gray release: a destination synced for a share of the contacts only, picked by a stable hash.

A contact's bucket is a number in [0, 1) made from its id (SHA-256, so the same on every host
and every run); it is in a destination's rollout when its bucket is below the share. Widening
0.1 → 0.5 keeps the first 10% and adds the contacts whose bucket lies in [0.1, 0.5). Rows about a
contact (its tags, its subscriptions, its dial tasks) follow the contact; a row about no contact
is bucketed by its own entity name.
"""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

CONTACTS_TABLE = "contacts"
WHOLE = 1.0


def bucket(key: str) -> float:
    """`contact:42` → its fixed place in [0, 1)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_share(key: str, share: float) -> bool:
    return share >= WHOLE or bucket(key) < share


def rollout_key(table: str, row: Mapping[str, Any], entity: str) -> str:
    """What a change is bucketed by: its contact (`contact:42`), else its own entity name."""
    if table.rpartition(".")[2] == CONTACTS_TABLE and row.get("id") is not None:
        return f"contact:{row['id']}"
    if row.get("contact_id") is not None:
        return f"contact:{row['contact_id']}"
    return entity


def contacts_added(contacts: Iterable[int], before: float, after: float) -> list[int]:
    """The contacts a widening from `before` to `after` brings in (in the order given)."""
    return [c for c in contacts if in_share(f"contact:{c}", after) and not in_share(f"contact:{c}", before)]


def contacts_in(contacts: Iterable[int], share: float) -> list[int]:
    return [contact for contact in contacts if in_share(f"contact:{contact}", share)]
