"""The inbox micro-batcher: batches flush when full or after a short wait, each request is answered
only once its batch committed, duplicates are told apart, and a failed batch is a 503 for its
requests only."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from cdc_sync.errors import RejectedEvent, StackUnavailable
from cdc_sync.inbound.app import create_app
from cdc_sync.inbound.batcher import BatchPolicy, InboxBatcher, new_per_event
from cdc_sync.inbound.sources import DEFAULT_SOURCES
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.signing import signed_headers

pytestmark = pytest.mark.anyio
LONG = 30.0  # a wait no test should ever reach: reaching it fails the test, it never passes it


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def event(n: int, source: str = "marketing") -> InboundEvent:
    return InboundEvent(
        source=source,
        event_id=f"e-{n}",
        kind="email.clicked",
        entity=f"email:{n}@example.com",
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
        data={"email": f"{n}@example.com"},
    )


@dataclass
class FakeInbox:
    """A store with the database's answer (new rows by key), that can be held or made to fail."""

    stored: set[tuple[str, str]] = field(default_factory=set)
    batches: list[list[str]] = field(default_factory=list)
    release: asyncio.Event | None = None
    failures: list[Exception] = field(default_factory=list)
    unstorable: set[str] = field(default_factory=set)  # event ids the database refuses

    async def put_many(self, events: Sequence[InboundEvent]) -> list[bool]:
        self.batches.append([e.event_id for e in events])
        if self.release is not None:
            await self.release.wait()
        if self.failures:
            raise self.failures.pop(0)
        refused = [e.event_id for e in events if e.event_id in self.unstorable]
        if refused:
            raise RejectedEvent(f"the inbox cannot store this event: {refused[0]}")
        keys = [(e.source, e.event_id) for e in events]
        inserted = [key for key in dict.fromkeys(keys) if key not in self.stored]
        self.stored.update(inserted)
        return new_per_event(keys, inserted)


async def puts(batcher: InboxBatcher, events: Sequence[InboundEvent]) -> list[bool | BaseException]:
    async with asyncio.timeout(LONG):
        return await asyncio.gather(*(batcher.put(e) for e in events), return_exceptions=True)


def test_new_per_event_marks_the_first_of_repeated_keys_new() -> None:
    keys = [("s", "a"), ("s", "b"), ("s", "a"), ("s", "c")]
    assert new_per_event(keys, [("s", "a"), ("s", "c")]) == [True, False, False, True]
    assert new_per_event(keys, []) == [False] * 4


async def test_a_full_batch_flushes_without_waiting_for_the_timer() -> None:
    inbox = FakeInbox()
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=3, max_wait_s=LONG * 2, timeout_s=LONG * 2))
    assert await puts(batcher, [event(n) for n in range(3)]) == [True, True, True]
    assert inbox.batches == [["e-0", "e-1", "e-2"]]
    await batcher.close()


async def test_a_partial_batch_flushes_after_the_wait() -> None:
    inbox = FakeInbox()
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=100, max_wait_s=0.01))
    assert await puts(batcher, [event(1), event(2)]) == [True, True]
    assert inbox.batches == [["e-1", "e-2"]]
    await batcher.close()


async def test_each_request_is_answered_only_after_its_batch_committed() -> None:
    release = asyncio.Event()
    inbox = FakeInbox(release=release)
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=2, max_wait_s=0.001, timeout_s=LONG))
    first = [asyncio.create_task(batcher.put(event(n))) for n in range(2)]
    while not inbox.batches:
        await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.put(event(n))) for n in range(2, 4)]
    await asyncio.sleep(0.05)  # whatever the scheduling, nothing may be answered while the commit hangs
    assert not any(task.done() for task in first + later)
    assert inbox.batches == [["e-0", "e-1"]]  # the next batch waits for the one in flight
    release.set()
    async with asyncio.timeout(LONG):
        assert await asyncio.gather(*first, *later) == [True] * 4
    assert inbox.batches == [["e-0", "e-1"], ["e-2", "e-3"]]
    await batcher.close()


async def test_duplicates_are_answered_as_such_within_and_across_batches() -> None:
    inbox = FakeInbox()
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=3, max_wait_s=0.01))
    assert await puts(batcher, [event(1), event(2), event(1)]) == [True, True, False]
    assert await puts(batcher, [event(2), event(3)]) == [False, True]
    assert await puts(batcher, [event(2, source="erp")]) == [True]  # unique per source
    await batcher.close()


async def test_a_failed_batch_fails_its_requests_only() -> None:
    inbox = FakeInbox(failures=[StackUnavailable("inbox unavailable: connection refused")])
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=2, max_wait_s=LONG * 2))
    failed = await puts(batcher, [event(1), event(2)])
    assert all(isinstance(answer, StackUnavailable) for answer in failed)
    assert await puts(batcher, [event(3), event(4)]) == [True, True]
    assert await puts(batcher, [event(1), event(2)]) == [True, True]  # the failed ones were not stored
    await batcher.close()


async def test_an_event_the_database_refuses_is_refused_alone_and_its_batch_is_stored() -> None:
    inbox = FakeInbox(unstorable={"e-2"})
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=3, max_wait_s=LONG * 2))
    first, refused, third = await puts(batcher, [event(1), event(2), event(3)])
    assert (first, third) == (True, True)
    assert isinstance(refused, RejectedEvent) and "e-2" in str(refused)
    assert inbox.batches == [["e-1", "e-2", "e-3"], ["e-1"], ["e-2"], ["e-3"]]
    assert inbox.stored == {("marketing", "e-1"), ("marketing", "e-3")}
    await batcher.close()


async def test_an_unexpected_error_is_unavailable_too() -> None:
    inbox = FakeInbox(failures=[RuntimeError("bug")])
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=1))
    (answer,) = await puts(batcher, [event(1)])
    assert isinstance(answer, StackUnavailable) and "bug" in str(answer)
    await batcher.close()


async def test_a_commit_that_hangs_is_unavailable_after_the_timeout() -> None:
    inbox = FakeInbox(release=asyncio.Event())  # never released
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=1, timeout_s=0.05))
    (answer,) = await puts(batcher, [event(1)])  # `puts` fails the test if it waits LONG
    assert isinstance(answer, StackUnavailable) and "within" in str(answer)
    await batcher.close()


async def test_a_full_queue_is_refused_at_once() -> None:
    release = asyncio.Event()
    inbox = FakeInbox(release=release)
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=1, max_queued=1, timeout_s=LONG))
    in_flight = asyncio.create_task(batcher.put(event(1)))
    while not inbox.batches:
        await asyncio.sleep(0)
    queued = asyncio.create_task(batcher.put(event(2)))
    await asyncio.sleep(0)  # it runs up to its wait: queued behind the batch in flight
    with pytest.raises(StackUnavailable, match="backlog"):
        await batcher.put(event(3))
    release.set()
    async with asyncio.timeout(LONG):
        assert list(await asyncio.gather(in_flight, queued)) == [True, True]
    await batcher.close()


async def test_the_app_answers_a_failed_batch_with_503_and_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "whsec_bWFya2V0aW5n"
    for name in ("HELPDESK_WEBHOOK", "ERP_WEBHOOK", "MARKETING_LIST", "CALLCENTER_WEBHOOK"):
        monkeypatch.setenv(f"CDC_SYNC_{name}_SECRET", "whsec_c2VjcmV0")
    monkeypatch.setenv("CDC_SYNC_MARKETING_WEBHOOK_SECRET", secret)
    inbox = FakeInbox(failures=[StackUnavailable("inbox unavailable: connection refused")])
    batcher = InboxBatcher(inbox.put_many, BatchPolicy(max_rows=1))

    async def ready() -> bool:
        return True

    async def alert(source: str, kind: str, reason: str) -> None:
        return None

    app = create_app(DEFAULT_SOURCES, batcher, on_rejected=alert, ready=ready)
    transport = httpx.ASGITransport(app=app)

    async def click(n: int) -> httpx.Response:
        body = orjson.dumps(
            {
                "type": "email.clicked",
                "event_id": f"c-{n}",
                "email": "a@example.com",
                "campaign_id": "x",
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        )
        headers = {
            "content-type": "application/json",
            **signed_headers(secret, f"c-{n}", int(time.time()), body),
        }
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/webhooks/marketing", content=body, headers=headers)

    async with asyncio.timeout(LONG):
        failed = await click(1)
        assert failed.status_code == 503 and failed.headers["retry-after"]
        assert "connection refused" not in failed.text
        stored, again = await click(1), await click(1)
    assert (stored.status_code, stored.json()["status"]) == (200, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    await batcher.close()
