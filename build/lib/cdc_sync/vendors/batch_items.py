"""What every vendor batch call shares: one key for the call, one per item, outcomes by item."""

import hashlib
from collections.abc import Sequence

from cdc_sync.delivery.http import Answer, Headers
from cdc_sync.model.delivery import Delivery, Outcome

# Each item keeps its own idempotency key inside a batch: the vendor (our sandboxes do) can
# then apply an item retried in a later batch once. Real vendors ignore the header, and their
# batch calls set state, so a repeated item changes nothing there either.
ITEM_KEYS_HEADER = "X-Item-Idempotency-Keys"


def batch_key(batch: Sequence[Delivery], suffix: str = "") -> str:
    """The call's own idempotency key: the same items in the same order give the same key."""
    joined = ",".join(delivery.idempotency_key for delivery in batch) + suffix
    return hashlib.sha256(joined.encode()).hexdigest()[:40]


def item_keys(batch: Sequence[Delivery]) -> Headers:
    return {ITEM_KEYS_HEADER: ",".join(delivery.idempotency_key for delivery in batch)}


def accepted(answer: Answer) -> bool:
    """A 2xx with a JSON object: per-item results can be read from it."""
    status = answer.outcome.status
    return status is not None and 200 <= status < 300 and isinstance(answer.json, dict)


def everyone(answer: Answer, count: int) -> list[Outcome]:
    """The whole call failed (or was throttled): each item gets that outcome and is retried by itself."""
    outcome = answer.outcome
    if outcome.status is not None and 200 <= outcome.status < 300:
        outcome = Outcome(None, outcome.latency_s, body="batch answer unreadable", failure="network")
    return [outcome] * count


def refused(latency_s: float, detail: str) -> Outcome:
    """One item the vendor refused inside a batch: a client error, so it is dead-lettered alone."""
    return Outcome(422, latency_s, detail[:2000])


def missing(latency_s: float) -> Outcome:
    """An item the batch answer does not mention: tried again."""
    return Outcome(None, latency_s, body="no result for this item in the batch answer", failure="network")
