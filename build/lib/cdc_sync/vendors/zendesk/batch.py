"""Zendesk users in bulk: `POST /api/v2/users/create_or_update_many` (≤ 100 users) answers with
a job; each delivery is acknowledged only when `GET /api/v2/job_statuses/{id}` reports that
user's own result (Created/Updated → ok, Failed → that user alone is dead-lettered).

Consent-safe: a user carries no subscription state; create_or_update_many applies exactly what
create_or_update would, user by user.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from cdc_sync.delivery.destinations import VendorCalls
from cdc_sync.delivery.http import Answer
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.vendors.batch_items import accepted, batch_key, everyone, item_keys, missing, refused

USERS = "users"
MAX_USERS = 100
MANY = "/api/v2/users/create_or_update_many"
DONE = frozenset({"completed", "failed", "killed"})
RESULT_STATUS = {"created": 201, "updated": 200}


def user_outcome(result: dict[str, Any], latency_s: float) -> Outcome:
    status = RESULT_STATUS.get(str(result.get("status", "")).lower())
    if status is not None and not result.get("error"):
        user_id = result.get("id")  # the helpdesk user id its ticket events will name
        return Outcome(status, latency_s, vendor_ref=None if user_id is None else str(user_id))
    detail = f"{result.get('error') or result.get('status')}: {result.get('details') or ''}".strip()
    return refused(latency_s, detail)


def job_outcomes(job: dict[str, Any], count: int, latency_s: float) -> list[Outcome]:
    """Per-user outcomes of a finished job, in request order (`index` when the vendor gives it)."""
    if job.get("status") != "completed":
        failure = Outcome(503, latency_s, f"job {job.get('status')}: {job.get('message') or ''}")
        return [failure] * count
    outcomes = [missing(latency_s)] * count
    for position, result in enumerate(job.get("results") or []):
        index = result.get("index", position) if isinstance(result, dict) else None
        if isinstance(index, int) and 0 <= index < count:
            outcomes[index] = user_outcome(result, latency_s)
    return outcomes


class ZendeskUsersBatch:
    """create_or_update_many, then the job status polled until it is done (or `timeout_s`)."""

    def __init__(self, timeout_s: float, first_poll_s: float = 0.01, poll_cap_s: float = 0.5) -> None:
        self._timeout_s = timeout_s
        self._first_poll_s = first_poll_s
        self._poll_cap_s = poll_cap_s

    def limit(self, group: str) -> int:
        return MAX_USERS

    async def send(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]:
        started = time.perf_counter()
        users = [delivery.request.batch.item for delivery in batch if delivery.request.batch]
        key = batch_key(batch)
        answer = await vendor.call("POST", MANY, {"users": users}, key, item_keys(batch))
        job = answer.json.get("job_status") if accepted(answer) else None
        if not isinstance(job, dict) or "id" not in job:
            return everyone(answer, len(batch))
        finished = await self._finished(vendor, str(job["id"]), key, started)
        if not isinstance(finished, dict):
            return everyone(finished, len(batch))
        return job_outcomes(finished, len(batch), time.perf_counter() - started)

    async def _finished(self, vendor: VendorCalls, job_id: str, key: str, started: float) -> Any:
        """The job once done, or the last answer when polling gave up (it is then retried)."""
        wait = self._first_poll_s
        while True:
            await asyncio.sleep(wait)
            answer = await vendor.call("GET", f"/api/v2/job_statuses/{job_id}", None, f"{key}:poll")
            job = answer.json.get("job_status") if accepted(answer) else None
            if isinstance(job, dict) and job.get("status") in DONE:
                return job
            if time.perf_counter() - started > self._timeout_s:
                return _timed_out(answer, time.perf_counter() - started)
            wait = min(self._poll_cap_s, max(wait * 2, answer.outcome.retry_after_s or 0.0))


def _timed_out(last: Answer, latency_s: float) -> Answer:
    return Answer(Outcome(None, latency_s, body=f"job not done: {last.outcome.summary}", failure="timeout"))
