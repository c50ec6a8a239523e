"""The shared `/_sandbox/*` routes, the request log and idempotent replay."""

import asyncio

import pytest

from cdc_sync.sandbox.faults import Faults
from cdc_sync.sandbox.server import SandboxSettings
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, ScriptedRandom, client, settings

pytestmark = pytest.mark.anyio

EMAIL = "grace@example.com"
MEMBER = f"/3.0/lists/list-1/members/{subscriber_hash(EMAIL)}"
NEW_MEMBER = {"email_address": EMAIL, "status_if_new": "subscribed"}


async def test_put_faults_replaces_them_and_missing_fields_take_defaults() -> None:
    async with client(create_mailchimp_app(settings())) as sandbox:
        await sandbox.put("/_sandbox/faults", json={"error_rate": 0.5, "error_status": 500})
        answer = await sandbox.put("/_sandbox/faults", json={"latency_ms": 20})
        current = (await sandbox.get("/_sandbox/faults")).json()
    assert answer.json() == current == Faults(latency_ms=20).model_dump()


@pytest.mark.parametrize(
    ("body", "mentions"),
    [({"error_rate": 2}, "error_rate"), ({"latency": 10}, "latency"), ([1], "JSON object")],
)
async def test_invalid_faults_are_refused_readably(body: object, mentions: str) -> None:
    async with client(create_mailchimp_app(settings())) as sandbox:
        response = await sandbox.put("/_sandbox/faults", json=body)
        current = (await sandbox.get("/_sandbox/faults")).json()
    assert response.status_code == 422
    assert mentions in str(response.json())
    assert current == Faults().model_dump()


async def test_request_log_masks_authorization_and_parses_bodies() -> None:
    clock = FakeClock(0.0)
    async with client(create_mailchimp_app(settings(), clock=clock), MAILCHIMP_AUTH) as sandbox:
        await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1", "X-Trace": "t"})
        await sandbox.get("/3.0/lists/list-1/members", params={"count": "5"})
        log = (await sandbox.get("/_sandbox/requests")).json()
        later = (await sandbox.get("/_sandbox/requests", params={"since": 1})).json()["requests"]
    first, second = log["requests"]
    assert (first["method"], first["path"], first["status"]) == ("PUT", MEMBER, 200)
    assert first["headers"]["authorization"] == "****"
    assert first["headers"]["x-trace"] == "t"
    assert (first["idempotency_key"], first["body"], first["time"]) == (
        "k-1",
        NEW_MEMBER,
        "1970-01-01T00:00:00+00:00",
    )
    assert (second["query"], second["body"], second["idempotency_key"]) == ({"count": "5"}, None, None)
    assert later == [second]


async def test_since_must_be_a_count() -> None:
    async with client(create_mailchimp_app(settings())) as sandbox:
        response = await sandbox.get("/_sandbox/requests", params={"since": "-1"})
    assert response.status_code == 422


async def test_same_idempotency_key_applies_once_and_replays_the_same_response() -> None:
    clock = FakeClock()
    async with client(create_mailchimp_app(settings(), clock=clock), MAILCHIMP_AUTH) as sandbox:
        first = await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})
        clock.advance(60)  # a second application would show in last_changed
        changed = {**NEW_MEMBER, "merge_fields": {"FNAME": "Grace"}}
        second = await sandbox.put(MEMBER, json=changed, headers={"Idempotency-Key": "k-1"})
        stored = (await sandbox.get(MEMBER)).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert stored["merge_fields"] == {}
    assert effects == {"effects": {"k-1": 1}, "total": 1}


async def test_a_retry_racing_its_slow_original_is_applied_once() -> None:
    async with client(create_mailchimp_app(settings(latency_ms=20)), MAILCHIMP_AUTH) as sandbox:
        original, retry = await asyncio.gather(
            *(sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"}) for _ in range(2))
        )
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (original.status_code, original.content) == (retry.status_code, retry.content)
    assert effects == {"effects": {"k-1": 1}, "total": 1}


async def test_requests_without_key_count_as_separate_effects() -> None:
    async with client(create_mailchimp_app(settings()), MAILCHIMP_AUTH) as sandbox:
        await sandbox.put(MEMBER, json=NEW_MEMBER)
        await sandbox.put(MEMBER, json=NEW_MEMBER)
        await sandbox.get(MEMBER)
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert effects == {"effects": {f"PUT {MEMBER} #1": 1, f"PUT {MEMBER} #2": 1}, "total": 2}


async def test_a_failed_attempt_is_not_stored_so_its_retry_applies() -> None:
    app = create_mailchimp_app(settings(error_rate=0.5), rng=ScriptedRandom(0.1, 0.9, 0.9))
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        statuses = [
            (await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})).status_code
            for _ in range(3)
        ]
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert statuses == [503, 200, 200]
    assert effects == {"effects": {"k-1": 1}, "total": 1}


async def test_a_known_key_does_not_bypass_authentication() -> None:
    app = create_mailchimp_app(settings())
    async with client(app, MAILCHIMP_AUTH) as sandbox:
        await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})
    async with client(app, ("anystring", "stolen")) as intruder:
        response = await intruder.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 401


async def test_reset_clears_everything_and_restores_startup_faults() -> None:
    startup = SandboxSettings(faults=Faults(error_status=500))
    async with client(create_mailchimp_app(startup), MAILCHIMP_AUTH) as sandbox:
        await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})
        await sandbox.post("/_sandbox/notify", json={"alert": "lag"})
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 5})
        assert (await sandbox.post("/_sandbox/reset")).status_code == 204
        faults = (await sandbox.get("/_sandbox/faults")).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()
        notifications = (await sandbox.get("/_sandbox/notifications")).json()
        log = (await sandbox.get("/_sandbox/requests")).json()["requests"]
        member = await sandbox.get(MEMBER)
        await sandbox.put(MEMBER, json=NEW_MEMBER, headers={"Idempotency-Key": "k-1"})
        reapplied = await sandbox.get(MEMBER)  # a replay from a stale store would not recreate it
    assert faults == Faults(error_status=500).model_dump()
    assert effects == {"effects": {}, "total": 0}
    assert (notifications["notifications"], log) == ([], [])
    assert (member.status_code, reapplied.status_code) == (404, 200)


async def test_notify_sink_keeps_notifications_apart_from_vendor_requests() -> None:
    async with client(create_mailchimp_app(settings(reject_status=400))) as sandbox:
        sent = await sandbox.post("/_sandbox/notify", json={"alert": "dlq", "count": 3})
        await sandbox.post("/_sandbox/notify", content=b"plain text")
        notifications = (await sandbox.get("/_sandbox/notifications")).json()
        log = (await sandbox.get("/_sandbox/requests")).json()["requests"]
    assert sent.status_code == 204
    assert notifications == {"notifications": [{"alert": "dlq", "count": 3}, "plain text"]}
    assert log == []
