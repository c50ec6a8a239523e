"""Fault injection: the decisions in their documented order, then what clients see."""

from random import Random

import pytest

from cdc_sync.sandbox.faults import ConnectionDropped, FaultInjector, FaultKind, Faults
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, ZENDESK_AUTH, FakeClock, ScriptedRandom, client, settings

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
MEMBER = f"/3.0/lists/list-1/members/{subscriber_hash(EMAIL)}"
NEW_MEMBER = {"email_address": EMAIL, "status_if_new": "subscribed"}


def injector(rng: Random, clock: FakeClock | None = None, **faults: object) -> FaultInjector:
    return FaultInjector(Faults.model_validate(faults), rng, clock or FakeClock())


def test_defaults_are_a_well_behaved_vendor() -> None:
    assert Faults().model_dump() == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "error_status": 503,
        "rate_limit_per_s": None,
        "retry_after_s": 1,
        "reject_status": None,
        "drop_connection_rate": 0.0,
    }
    assert injector(ScriptedRandom()).decide().kind is FaultKind.NONE


def test_drop_comes_before_reject() -> None:
    def first_fault(draw: float) -> FaultKind:
        return injector(ScriptedRandom(draw), drop_connection_rate=0.5, reject_status=400).decide().kind

    assert (first_fault(0.4), first_fault(0.6)) == (FaultKind.DROP, FaultKind.REJECT)


def test_reject_comes_before_rate_limit_and_error() -> None:
    decision = injector(ScriptedRandom(), reject_status=422, rate_limit_per_s=1, error_rate=1.0).decide()
    assert (decision.kind, decision.status, decision.retry_after_s) == (FaultKind.REJECT, 422, None)


def test_rate_limit_comes_before_error() -> None:
    faults = injector(ScriptedRandom(0.9), rate_limit_per_s=1, error_rate=0.5)
    assert faults.decide().kind is FaultKind.NONE
    limited = faults.decide()  # no draw: the rate limit answers first
    assert (limited.kind, limited.status) == (FaultKind.RATE_LIMIT, 429)


def test_rate_limit_window_rolls_over_one_second() -> None:
    clock = FakeClock()
    faults = injector(ScriptedRandom(), clock, rate_limit_per_s=2, retry_after_s=3)
    assert [faults.decide().kind for _ in range(3)] == [FaultKind.NONE, FaultKind.NONE, FaultKind.RATE_LIMIT]
    assert faults.decide().retry_after_s == 3
    clock.advance(1.0)
    assert faults.decide().kind is FaultKind.NONE


def test_rate_below_one_per_second_widens_the_window() -> None:
    clock = FakeClock()
    faults = injector(ScriptedRandom(), clock, rate_limit_per_s=0.5)
    assert [faults.decide().kind for _ in range(2)] == [FaultKind.NONE, FaultKind.RATE_LIMIT]
    clock.advance(1.5)
    assert faults.decide().kind is FaultKind.RATE_LIMIT
    clock.advance(0.5)
    assert faults.decide().kind is FaultKind.NONE


def test_error_carries_retry_after_only_when_it_is_a_429() -> None:
    unavailable = injector(ScriptedRandom(0.1), error_rate=0.5).decide()
    assert (unavailable.kind, unavailable.status, unavailable.retry_after_s) == (FaultKind.ERROR, 503, None)
    throttled = injector(ScriptedRandom(0.1), error_rate=0.5, error_status=429, retry_after_s=9).decide()
    assert (throttled.status, throttled.retry_after_s) == (429, 9)


def test_latency_is_reported_with_a_clean_pass() -> None:
    assert injector(ScriptedRandom(), latency_ms=250).decide().latency_s == 0.25


async def test_dropped_connection_aborts_mid_response_without_effect() -> None:
    app = create_mailchimp_app(settings(drop_connection_rate=1.0), rng=ScriptedRandom(0.0))
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        with pytest.raises(ConnectionDropped):
            await sandbox.put(MEMBER, json=NEW_MEMBER)
        assert (await sandbox.get("/_sandbox/effects")).json() == {"effects": {}, "total": 0}
        [logged] = (await sandbox.get("/_sandbox/requests")).json()["requests"]
    assert logged["status"] is None


async def test_reject_status_answers_in_the_vendor_shape_without_effect() -> None:
    app = create_zendesk_app(settings(reject_status=422), rng=ScriptedRandom())
    async with client(app, ZENDESK_AUTH) as sandbox:
        response = await sandbox.post(
            "/api/v2/users/create_or_update", json={"user": {"email": EMAIL, "name": "A"}}
        )
        assert response.status_code == 422
        assert response.json()["error"] == "RecordInvalid"
        assert (await sandbox.get("/_sandbox/effects")).json()["total"] == 0


async def test_rate_limit_gives_429_with_retry_after_and_applies_only_admitted_requests() -> None:
    clock = FakeClock()
    app = create_zendesk_app(settings(rate_limit_per_s=1, retry_after_s=7), rng=ScriptedRandom(), clock=clock)
    user = {"user": {"email": EMAIL, "name": "Ada"}}
    async with client(app, ZENDESK_AUTH) as sandbox:
        first = await sandbox.post("/api/v2/users/create_or_update", json=user)
        second = await sandbox.post("/api/v2/users/create_or_update", json=user)
        clock.advance(1.0)
        third = await sandbox.post("/api/v2/users/create_or_update", json=user)
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert [first.status_code, second.status_code, third.status_code] == [201, 429, 200]
    assert second.headers["retry-after"] == "7"
    assert second.json()["error"] == "TooManyRequests"
    assert effects["total"] == 2


async def test_error_rate_fails_some_requests_without_effect() -> None:
    app = create_mailchimp_app(settings(error_rate=0.5), rng=ScriptedRandom(0.2, 0.7))
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        failed = await sandbox.put(MEMBER, json=NEW_MEMBER)
        served = await sandbox.put(MEMBER, json=NEW_MEMBER)
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (failed.status_code, failed.headers["content-type"]) == (503, "application/problem+json")
    assert "retry-after" not in failed.headers
    assert served.status_code == 200
    assert effects["total"] == 1


async def test_injected_429_error_carries_retry_after() -> None:
    app = create_mailchimp_app(
        settings(error_rate=1.0, error_status=429, retry_after_s=4), rng=ScriptedRandom(0.0)
    )
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        response = await sandbox.put(MEMBER, json=NEW_MEMBER)
    assert (response.status_code, response.headers["retry-after"]) == (429, "4")
    assert response.json()["title"] == "Too Many Requests"


async def test_latency_delays_then_applies_the_change() -> None:
    app = create_mailchimp_app(settings(latency_ms=50), rng=ScriptedRandom())
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        response = await sandbox.put(MEMBER, json=NEW_MEMBER)
        fetched = await sandbox.get(MEMBER)
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert response.status_code == 200
    assert fetched.json()["status"] == "subscribed"
    assert effects["total"] == 1


async def test_control_routes_are_never_faulted() -> None:
    faults = {"drop_connection_rate": 1.0, "reject_status": 400, "error_rate": 1.0, "rate_limit_per_s": 1}
    app = create_mailchimp_app(settings(**faults), rng=ScriptedRandom())
    async with client(app) as sandbox:
        statuses = [(await sandbox.get("/_sandbox/faults")).status_code for _ in range(3)]
        logged = (await sandbox.get("/_sandbox/requests")).json()["requests"]
    assert statuses == [200, 200, 200]
    assert logged == []
