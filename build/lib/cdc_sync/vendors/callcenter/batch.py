"""Dial tasks in bulk: the tasks of one dial batch (the `group`) in one `POST /v1/dial-batches`,
at most 500. The call center takes a batch whole (202 with the accepted count) and deduplicates
by batch_id + task_id, so a retried batch dials nobody twice."""

from collections.abc import Sequence

from cdc_sync.delivery.destinations import VendorCalls
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.vendors.batch_items import accepted, batch_key, everyone, item_keys
from cdc_sync.vendors.callcenter.mapper import DIAL_BATCHES

MAX_TASKS = 500


class DialBatches:
    def __init__(self, batch_max: int | None = None) -> None:
        self._max = min(batch_max or MAX_TASKS, MAX_TASKS)

    def limit(self, group: str) -> int:
        return self._max

    async def send(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]:
        tasks = [delivery.request.batch.item for delivery in batch if delivery.request.batch]
        body = {"batch_id": group, "tasks": tasks}
        answer = await vendor.call("POST", DIAL_BATCHES, body, batch_key(batch), item_keys(batch))
        if not accepted(answer) or answer.json.get("accepted") != len(tasks):
            return everyone(answer, len(batch))
        return [answer.outcome] * len(batch)
