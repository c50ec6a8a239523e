"""The delivery engine with a scripted destination and in-memory hooks (no network, no DB)."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.sender import Lane
from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Action, Delivery, Outcome, VendorRequest

CONFIG = DestinationConfig(
    kind="mailchimp",
    system="marketing",
    base_url="http://vendor",
    tables=("public.contacts",),
    rate_limit_per_s=10_000,
    latency_threshold_s=3.0,
    max_compensations=2,
    backoff_base_s=0.001,
    backoff_cap_s=0.002,
)


def delivery(entity: str, n: int) -> Delivery:
    source = SourcePosition(topic="t", partition=0, offset=n, lsn=n, tx_id=n, commit_ts=datetime.now(UTC))
    return Delivery(
        destination="marketing",
        entity=entity,
        table="public.contacts",
        operation="member.upsert",
        request=VendorRequest(method="PUT", path=f"/m/{entity}"),
        idempotency_key=f"{entity}-{n}",
        source=source,
    )


class ScriptedVendor:
    """Answers per entity from a script of outcomes (default 200), recording the send order."""

    name = "marketing"

    def __init__(
        self, script: dict[str, list[Outcome]] | None = None, delay: dict[str, float] | None = None
    ) -> None:
        self.script = script or {}
        self.delay = delay or {}
        self.sent: list[str] = []

    def batch_group(self, delivery: Delivery) -> str | None:
        return None

    def batch_limit(self, group: str) -> int:
        return 1

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]:
        (item,) = batch
        await asyncio.sleep(self.delay.get(item.entity, 0))
        self.sent.append(item.idempotency_key)
        answers = self.script.get(item.entity)
        return [answers.pop(0) if answers else Outcome(200, 0.01)]

    async def aclose(self) -> None:
        return None


class MemoryHooks:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, int, Action]] = []
        self.dead: list[str] = []
        self.breaches: list[float] = []
        self.escalations: list[str] = []
        self.held: list[str] = []
        self.still_paused = True
        self.merged: list[str] = []
        self.refusals: list[str] = []

    def attempted(self, delivery: Delivery, attempt: int, outcome: Outcome, action: Action) -> None:
        self.attempts.append((delivery.idempotency_key, attempt, action))

    def superseded(self, delivery: Delivery) -> None:
        self.merged.append(delivery.idempotency_key)

    def durable(self, done: Callable[[], None]) -> None:
        done()

    async def dead_letter(self, delivery: Delivery, outcome: Outcome) -> None:
        self.dead.append(delivery.idempotency_key)

    async def latency_breached(self, delivery: Delivery, outcome: Outcome, threshold_s: float) -> None:
        self.breaches.append(outcome.latency_s)

    async def escalate(self, delivery: Delivery, failures: int, last: Outcome) -> None:
        self.escalations.append(f"{delivery.idempotency_key}:{failures}")

    async def credentials_refused(self, delivery: Delivery, outcome: Outcome) -> None:
        self.refusals.append(delivery.idempotency_key)

    async def hold(self, delivery: Delivery, reason: str) -> bool:
        if self.still_paused:
            self.held.append(delivery.idempotency_key)
        return self.still_paused


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


def test_order_per_entity_and_a_slow_entity_does_not_block_others() -> None:
    vendor = ScriptedVendor(delay={"contact:1": 0.05})
    lane = Lane(CONFIG, vendor, MemoryHooks())
    items = [
        delivery("contact:1", 1),
        delivery("contact:2", 2),
        delivery("contact:1", 3),
        delivery("contact:2", 4),
    ]
    done = run(lane, items)
    assert sorted(done) == sorted(i.idempotency_key for i in items)
    assert vendor.sent.index("contact:1-1") < vendor.sent.index("contact:1-3")
    assert vendor.sent.index("contact:2-4") < vendor.sent.index(
        "contact:1-1"
    )  # not stuck behind the slow key


def test_retries_then_succeeds_and_every_attempt_is_recorded() -> None:
    hooks = MemoryHooks()
    vendor = ScriptedVendor({"contact:1": [Outcome(503, 0.01), Outcome(None, 0.01, failure="network")]})
    run(Lane(CONFIG, vendor, hooks), [delivery("contact:1", 1)])
    assert [a[2] for a in hooks.attempts] == [Action.RETRY, Action.RETRY, Action.OK]
    assert vendor.sent == ["contact:1-1"] * 3
    assert hooks.escalations == []


def test_client_error_is_dead_lettered_without_retry() -> None:
    hooks = MemoryHooks()
    run(
        Lane(CONFIG, ScriptedVendor({"contact:1": [Outcome(400, 0.01, "bad")]}), hooks),
        [delivery("contact:1", 1)],
    )
    assert hooks.dead == ["contact:1-1"]
    assert len(hooks.attempts) == 1


def test_rate_limit_answers_do_not_count_as_failures() -> None:
    hooks = MemoryHooks()
    throttled = [Outcome(429, 0.01, retry_after_s=0.001) for _ in range(5)]
    run(Lane(CONFIG, ScriptedVendor({"contact:1": throttled}), hooks), [delivery("contact:1", 1)])
    assert hooks.escalations == [] and hooks.dead == []
    assert [a[2] for a in hooks.attempts][-1] is Action.OK


def test_slow_answers_alert_compensate_and_escalate_then_hold_everything() -> None:
    hooks = MemoryHooks()
    slow = [Outcome(200, 10.0) for _ in range(3)]
    lane = Lane(CONFIG, ScriptedVendor({"contact:1": slow}), hooks)
    done = run(lane, [delivery("contact:1", 1), delivery("contact:1", 2), delivery("contact:3", 3)])
    assert hooks.breaches == [10.0, 10.0, 10.0]
    assert hooks.escalations == ["contact:1-1:3"]  # first try + 2 compensations failed
    assert lane.paused
    assert "contact:1-1" in hooks.held and "contact:1-2" in hooks.held
    assert len(done) == 3  # held counts as durable: offsets may move on


def test_a_resumed_destination_sends_instead_of_holding() -> None:
    hooks = MemoryHooks()
    hooks.still_paused = False
    vendor = ScriptedVendor()
    lane = Lane(CONFIG, vendor, hooks, paused=True)
    run(lane, [delivery("contact:1", 1)])
    assert vendor.sent == ["contact:1-1"] and hooks.held == []


def test_a_refused_credential_pauses_and_holds_instead_of_dead_lettering() -> None:
    hooks = MemoryHooks()
    script = {entity: [Outcome(401, 0.01, "invalid API key")] for entity in ("contact:1", "contact:2")}
    lane = Lane(CONFIG, ScriptedVendor(script), hooks)
    done = run(lane, [delivery("contact:1", 1), delivery("contact:2", 2)])
    assert sorted(hooks.refusals) == ["contact:1-1", "contact:2-2"] and lane.paused
    assert hooks.dead == []  # a revoked key must not dead-letter the stream
    assert "contact:1-1" in hooks.held and "contact:2-2" in hooks.held
    assert len(done) == 2


def test_429s_that_last_too_long_count_as_failures_and_escalate() -> None:
    hooks = MemoryHooks()
    config = CONFIG.model_copy(update={"max_throttled_s": 0.01, "max_compensations": 1})
    throttled = [Outcome(429, 0.01, retry_after_s=0.005) for _ in range(50)]
    lane = Lane(config, ScriptedVendor({"contact:1": throttled}), hooks)
    run(lane, [delivery("contact:1", 1)])
    assert hooks.escalations and lane.paused


def test_closing_cuts_a_long_retry_after_short() -> None:
    hooks = MemoryHooks()
    throttled = [Outcome(429, 0.01, retry_after_s=3600.0)]
    lane = Lane(CONFIG, ScriptedVendor({"contact:1": throttled}), hooks)

    async def go() -> None:
        lane.submit(delivery("contact:1", 1), lambda: None)
        await asyncio.sleep(0.05)  # the delivery now waits out its hour
        lane.close()
        await asyncio.wait_for(lane.drain(), timeout=5)  # generous: an hour is what it would take

    asyncio.run(go())
    assert [a[2] for a in hooks.attempts] == [Action.RETRY_AFTER]  # nothing sent after closing
