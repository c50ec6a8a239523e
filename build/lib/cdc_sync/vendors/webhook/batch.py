"""Signed webhook events in bulk, when the receiver opts in (`batch_max` > 1 in its config):
one `POST` of `{"type": "batch", "events": [...]}`, signed as one Standard Webhooks message
(its id derived from the events' own ids, listed in `X-Item-Idempotency-Keys`). The receiver
takes all or none: a 2xx acknowledges every event, anything else is each event's outcome.
"""

from collections.abc import Sequence

from cdc_sync.delivery.destinations import VendorCalls
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.vendors.batch_items import batch_key, item_keys

EVENTS = "events"


class WebhookBatch:
    def __init__(self, path: str, batch_max: int) -> None:
        self._path = path
        self._max = batch_max

    def limit(self, group: str) -> int:
        return self._max

    async def send(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]:
        events = [delivery.request.batch.item for delivery in batch if delivery.request.batch]
        body = {"type": "batch", "events": events}
        answer = await vendor.call("POST", self._path, body, batch_key(batch), item_keys(batch))
        return [answer.outcome] * len(batch)
