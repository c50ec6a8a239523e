"""How many times each logical change took effect, and what each keyed batch item was answered.

A batch request names one key per item in `X-Item-Idempotency-Keys` (body order). A key takes
effect once, whichever way it comes: an item whose key already took effect (as an item, or as a
single request's `Idempotency-Key`) is not applied again and is answered as it was the first
time, or from the current state. Items without keys are separate effects every time, as
unkeyed requests are.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

ITEM_KEYS_HEADER = "x-item-idempotency-keys"
ATTEMPT = "cdc_sync.sandbox.attempt"  # the scope entry the gate hands each vendor request
SAMPLE_DUPLICATES = 20

ItemAnswer = tuple[str, bytes]
"""(outcome, the item's encoded answer), e.g. ("new_members", <member JSON>)."""


class BadItemKeys(Exception):
    """`X-Item-Idempotency-Keys` does not name one non-empty key per item."""


@dataclass
class Attempt:
    """What one vendor request did to the effects: batch endpoints count theirs per item."""

    counted_per_item: bool = False


def attempt_of(request: Request) -> Attempt:
    attempt: Attempt = request.scope.setdefault(ATTEMPT, Attempt())
    return attempt


def item_keys(request: Request, count: int) -> list[str | None]:
    """One key per item in body order; all None without the header. Marks the request as
    counting its effects per item."""
    attempt_of(request).counted_per_item = True
    values = request.headers.getlist(ITEM_KEYS_HEADER)
    if not values:
        return [None] * count
    keys = [key.strip() for value in values for key in value.split(",")] if "".join(values).strip() else []
    if len(keys) != count or not all(keys):
        raise BadItemKeys(f"X-Item-Idempotency-Keys names {len(keys)} keys for {count} items")
    return list(keys)


def request_target(request: Request) -> str:
    """What an unkeyed effect of this request is named after, as the gate names it."""
    return f"{request.method} {request.url.path}"


@dataclass
class EffectLedger:
    _effects: Counter[str] = field(default_factory=Counter)
    _unkeyed: Counter[str] = field(default_factory=Counter)
    _answers: dict[str, ItemAnswer] = field(default_factory=dict)
    _total: int = 0

    def count(self, key: str | None, target: str) -> None:
        self._effects[key or self._unkeyed_name(target)] += 1
        self._total += 1

    def _unkeyed_name(self, target: str) -> str:
        self._unkeyed[target] += 1
        return f"{target} #{self._unkeyed[target]}"

    def answer(self, key: str | None, outcomes: frozenset[str]) -> ItemAnswer | None:
        """The first answer of an item that already took effect through this kind of batch."""
        found = None if key is None else self._answers.get(key)
        return found if found is not None and found[0] in outcomes else None

    def taken(self, key: str | None) -> bool:
        """Whether this key already took effect, by any path."""
        return key is not None and key in self._effects

    def item_answer(self, key: str) -> ItemAnswer | None:
        return self._answers.get(key)

    def item_applied(self, key: str | None, target: str, answer: ItemAnswer) -> None:
        if key is not None:
            self._answers[key] = answer
        self.count(key, target)

    def as_json(self) -> dict[str, Any]:
        return {"effects": dict(self._effects), "total": self._total}

    def summary(self) -> dict[str, Any]:
        duplicated = [key for key, count in self._effects.items() if count > 1]
        return {
            "total": self._total,
            "keys": len(self._effects),
            "duplicated_keys": len(duplicated),
            "sample_duplicates": duplicated[:SAMPLE_DUPLICATES],
        }

    def clear(self) -> None:
        for store in (self._effects, self._unkeyed, self._answers):
            store.clear()
        self._total = 0
