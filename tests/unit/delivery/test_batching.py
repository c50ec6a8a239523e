"""Batch windows and merging in the delivery engine, with a batching fake vendor (no network)."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cdc_sync.delivery.sender import Lane
from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Action, BatchForm, Delivery, Outcome, VendorRequest
from tests.unit.delivery.test_sender import CONFIG, MemoryHooks

WINDOWED = CONFIG.model_copy(update={"batch_window_s": 0.01, "batch_max": 500})


def member(entity: str, n: int, email: str | None = None, merge: bool = True) -> Delivery:
    source = SourcePosition(topic="t", partition=0, offset=n, lsn=n, tx_id=n, commit_ts=datetime.now(UTC))
    address = email or f"{entity}@example.com"
    return Delivery(
        destination="marketing",
        entity=entity,
        table="public.contacts",
        operation="member.upsert",
        request=VendorRequest(
            method="PUT",
            path=f"/m/{entity}",
            body={"email_address": address, "n": n},
            batch=BatchForm(group="members.new", item={"email_address": address}),
            merge_key=f"PUT /m/{entity}" if merge else None,
        ),
        idempotency_key=f"{entity}-{n}",
        source=source,
    )


class BatchingVendor:
    """Answers a batch item by item: addresses starting with `bad` are refused."""

    name = "marketing"

    def __init__(self, limit: int = 500) -> None:
        self.calls: list[list[str]] = []
        self.limit = limit

    def batch_group(self, delivery: Delivery) -> str | None:
        return delivery.request.batch.group if delivery.request.batch else None

    def batch_limit(self, group: str) -> int:
        return self.limit

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]:
        self.calls.append([d.idempotency_key for d in batch])
        await asyncio.sleep(0.001)
        return [
            Outcome(400, 0.001, "invalid address")
            if str((d.request.body or {}).get("email_address", "")).startswith("bad")
            else Outcome(200, 0.001)
            for d in batch
        ]

    async def aclose(self) -> None:
        return None


def run(lane: Lane, deliveries: list[Delivery]) -> list[str]:
    done: list[str] = []

    def finished(key: str) -> Callable[[], None]:
        return lambda: done.append(key)

    async def go() -> None:
        for item in deliveries:
            lane.submit(item, finished(item.idempotency_key))
        await lane.drain()

    asyncio.run(go())
    return done


def test_one_invalid_member_in_a_batch_of_500_is_the_only_dead_letter() -> None:
    hooks, vendor = MemoryHooks(), BatchingVendor()
    items = [member(f"contact:{i}", i, "bad@" if i == 250 else None) for i in range(500)]
    done = run(Lane(WINDOWED, vendor, hooks), items)
    assert len(vendor.calls) == 1 and len(vendor.calls[0]) == 500
    assert hooks.dead == ["contact:250-250"]
    assert sum(1 for _, _, action in hooks.attempts if action is Action.OK) == 499
    assert sorted(done) == sorted(d.idempotency_key for d in items)


def test_a_full_batch_leaves_without_waiting_for_its_window() -> None:
    vendor = BatchingVendor(limit=100)
    lane = Lane(WINDOWED.model_copy(update={"batch_window_s": 3600.0}), vendor, MemoryHooks())

    async def go() -> None:
        for item in [member(f"contact:{i}", i) for i in range(100)]:
            lane.submit(item, lambda: None)
        for _ in range(20):  # a few turns of the loop, nowhere near the hour-long window
            await asyncio.sleep(0)
        assert [len(call) for call in vendor.calls] == [100]  # before draining: never waits an hour
        await lane.drain()

    asyncio.run(go())


def test_a_change_and_its_later_change_in_one_window_send_only_the_later() -> None:
    hooks, vendor = MemoryHooks(), BatchingVendor()
    items = [member("contact:1", 1), member("contact:2", 2), member("contact:1", 3), member("contact:1", 4)]

    async def go() -> list[str]:
        done: list[str] = []
        lane = Lane(WINDOWED, vendor, hooks)
        # contact:1's first change is under way when the next two arrive: they merge behind it.
        lane.submit(items[0], lambda: done.append(items[0].idempotency_key))
        await asyncio.sleep(0)
        for item in items[1:]:
            lane.submit(item, lambda key=item.idempotency_key: done.append(key))  # type: ignore[misc]
        await lane.drain()
        return done

    done = asyncio.run(go())
    sent = [key for call in vendor.calls for key in call]
    assert "contact:1-3" not in sent and "contact:1-4" in sent
    assert hooks.merged == ["contact:1-3"]
    assert sorted(done) == sorted(d.idempotency_key for d in items)  # every offset may move on
    assert sent.index("contact:1-1") < sent.index("contact:1-4")


def test_an_object_never_has_two_items_in_one_batch_and_keeps_its_order() -> None:
    vendor = BatchingVendor()
    items = [member("contact:1", n, merge=False) for n in range(5)] + [member("contact:2", 9)]
    run(Lane(WINDOWED, vendor, MemoryHooks()), items)
    assert all(len({key.split("-")[0] for key in call}) == len(call) for call in vendor.calls)
    sent = [key for call in vendor.calls for key in call if key.startswith("contact:1")]
    assert sent == [f"contact:1-{n}" for n in range(5)]


def test_requests_without_a_merge_key_are_all_sent() -> None:
    hooks, vendor = MemoryHooks(), BatchingVendor()
    items = [member("contact:1", n, merge=False) for n in range(3)]
    run(Lane(WINDOWED, vendor, hooks), items)
    assert hooks.merged == [] and sum(len(call) for call in vendor.calls) == 3
