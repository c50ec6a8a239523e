"""Zendesk background jobs: `POST /api/v2/users/create_or_update_many` (at most 100 users) queues
one; `GET /api/v2/job_statuses/{id}` shows it go queued → working → completed with `results` in
the order of the request. Jobs run one after the other on the event loop, a short delay after
they are queued; at most 30 may be queued or working, and statuses are kept about an hour.
"""

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse, encoded
from cdc_sync.sandbox.effects import EffectLedger, item_keys, request_target
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.recorder import json_object
from cdc_sync.vendors.zendesk.sandbox_http import BadRequest, Endpoint, answering_refusals
from cdc_sync.vendors.zendesk.sandbox_users import (
    Helpdesk,
    RecordInvalid,
    RecordNotFound,
    User,
    user_entry,
    zendesk_time,
)

JobState = Literal["queued", "working", "completed", "failed", "killed"]
MAX_JOB_USERS = 100
MAX_ACTIVE_JOBS = 30
JOB_TTL_S = 3600.0
MAX_KEPT_JOBS = 10_000
RETRY_AFTER_S = 1
OUTCOMES = frozenset({"Created", "Updated"})

Sleep = Callable[[float], Awaitable[None]]


class TooManyJobs(Exception):
    """The account already has the most jobs Zendesk queues at once."""


@dataclass
class Job:
    id: str
    created_at: float
    users: list[Any]
    keys: list[str | None]
    target: str  # what the job's unkeyed effects are named after
    status: JobState = "queued"
    results: bytes | None = None  # the encoded results, once done
    message: str | None = None

    def __post_init__(self) -> None:
        self.total = len(self.users)

    def finish(self, status: JobState, results: list[dict[str, Any]], now: float) -> None:
        self.status, self.results = status, encoded(results)
        self.message = f"{status.capitalize()} at {zendesk_time(now)}"
        self.users, self.keys = [], []  # done with: only the results are kept

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base_url}api/v2/job_statuses/{self.id}.json",
            "status": self.status,
            "total": self.total,
            "progress": self.total if self.results is not None else 0,
            "message": self.message,
            "results": None if self.results is None else orjson.Fragment(self.results),
        }


def failed(index: int, exc: RecordInvalid) -> dict[str, Any]:
    descriptions = [entry["description"] for entries in exc.details.values() for entry in entries]
    return {
        "index": index,
        "id": None,
        "status": "Failed",
        "error": "RecordInvalid",
        "details": "; ".join(descriptions),
    }


class JobBoard:
    """The jobs of the account: the queue the worker drains in order, and every recent status."""

    def __init__(
        self,
        helpdesk: Helpdesk,
        ledger: EffectLedger,
        clock: Clock,
        delay_s: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.helpdesk, self.ledger, self.clock = helpdesk, ledger, clock
        self.delay_s, self.sleep = delay_s, sleep
        self.jobs: dict[str, Job] = {}  # in creation order
        self._queue: deque[Job] = deque()  # queued and working, the working one first
        self._worker: asyncio.Task[None] | None = None

    def submit(self, users: list[Any], keys: list[str | None], target: str) -> Job:
        if len(self._queue) >= MAX_ACTIVE_JOBS:
            raise TooManyJobs(f"At most {MAX_ACTIVE_JOBS} jobs may be queued or working.")
        self._expire()
        job = Job(uuid.uuid4().hex, self.clock(), users, keys, target)
        self.jobs[job.id] = job
        self._queue.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise RecordNotFound(f"job {job_id}")
        return job

    def _expire(self) -> None:
        horizon = self.clock() - JOB_TTL_S
        while self.jobs:
            oldest = next(iter(self.jobs.values()))
            if oldest.results is None or (oldest.created_at > horizon and len(self.jobs) < MAX_KEPT_JOBS):
                return
            del self.jobs[oldest.id]

    async def _work(self) -> None:
        while self._queue:
            job = self._queue[0]
            await self.sleep(self.delay_s)
            job.status = "working"
            await self.sleep(self.delay_s)
            self._run(job)
            self._queue.popleft()

    def _run(self, job: Job) -> None:
        try:
            results = [
                self._result(index, raw, key, job.target)
                for index, (raw, key) in enumerate(zip(job.users, job.keys, strict=True))
            ]
        except Exception as exc:  # a sandbox bug must fail the job, not stall every later one
            job.finish("failed", [{"error": type(exc).__name__, "details": str(exc)}], self.clock())
            return
        job.finish("completed", results, self.clock())

    def _result(self, index: int, raw: Any, key: str | None, target: str) -> dict[str, Any]:
        previous = self.ledger.answer(key, OUTCOMES)
        if previous is not None:
            return {"index": index, **orjson.loads(previous[1])}
        try:
            fields = user_entry(raw)
            existing = self.helpdesk.find(fields.external_id, fields.email or "")
            if existing is not None and self.ledger.taken(key):  # took effect as a single request
                return {"index": index, **user_result(existing, "Updated")}
            user, created = self.helpdesk.create_or_update(fields)
        except RecordInvalid as exc:
            return failed(index, exc)
        status = "Created" if created else "Updated"
        result = user_result(user, status)
        self.ledger.item_applied(key, target, (status, encoded(result)))
        return {"index": index, **result}

    def clear(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.jobs.clear()
        self._queue.clear()


def checked_users(body: dict[str, Any] | None) -> list[Any]:
    users = (body or {}).get("users")
    if not isinstance(users, list):
        raise BadRequest("users: must be an array of user objects")
    if len(users) > MAX_JOB_USERS:
        raise BadRequest(f"users: at most {MAX_JOB_USERS} users per request, got {len(users)}")
    return users


def too_many_jobs(exc: TooManyJobs) -> Response:
    body = {"error": "TooManyJobs", "description": str(exc)}
    return FastJSONResponse(body, status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)})


class JobEndpoints:
    def __init__(self, board: JobBoard) -> None:
        self.board = board

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/api/v2/users/create_or_update_many", "POST", self.create_or_update_many),
            ("/api/v2/job_statuses/show_many", "GET", self.show_many),
            ("/api/v2/job_statuses/{job_id}", "GET", self.show),
        ]
        return [Route(path, answering_refusals(call), methods=[method]) for path, method, call in table]

    async def create_or_update_many(self, request: Request) -> Response:
        users = checked_users(json_object(await request.body()))
        keys = item_keys(request, len(users))
        try:
            job = self.board.submit(users, keys, request_target(request))
        except TooManyJobs as exc:
            return too_many_jobs(exc)
        return FastJSONResponse({"job_status": job.as_json(str(request.base_url))})

    async def show(self, request: Request) -> Response:
        job = self.board.get(request.path_params["job_id"].removesuffix(".json"))
        return FastJSONResponse({"job_status": job.as_json(str(request.base_url))})

    async def show_many(self, request: Request) -> Response:
        ids = [job_id.strip() for job_id in request.query_params.get("ids", "").split(",") if job_id.strip()]
        found = [self.board.jobs[job_id] for job_id in ids if job_id in self.board.jobs]
        return FastJSONResponse({"job_statuses": [job.as_json(str(request.base_url)) for job in found]})


def user_result(user: User, status: str) -> dict[str, Any]:
    return {"id": user.id, "status": status, "email": user.email, "external_id": user.external_id}
