"""Vendor adapters over httpx.MockTransport: auth per vendor, idempotency keys, outcomes."""

import asyncio
import base64
from datetime import UTC, datetime

import httpx
import pytest

from cdc_sync.config import DestinationConfig, DestinationKind
from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Delivery, Outcome, VendorRequest
from cdc_sync.signing import verify
from cdc_sync.vendors.registry import build_destination

SECRET = "whsec_" + base64.b64encode(b"destination-test-secret").decode()


def config(kind: DestinationKind) -> DestinationConfig:
    return DestinationConfig(
        kind=kind,
        system="marketing",
        base_url="http://vendor",
        tables=("public.contacts",),
        credential_env="TEST_DESTINATION_SECRET",
        agent_email="agent@example.com",
    )


DELIVERY = Delivery(
    destination="d",
    entity="contact:1",
    table="public.contacts",
    operation="member.upsert",
    request=VendorRequest(method="PUT", path="/3.0/lists/l/members/h", body={"email_address": "a@b.co"}),
    idempotency_key="key-1",
    source=SourcePosition(topic="t", partition=0, offset=1, lsn=1, tx_id=1, commit_ts=datetime.now(UTC)),
)


def send(kind: DestinationKind, handler: httpx.MockTransport) -> Outcome:
    async def go() -> Outcome:
        destination = build_destination("d", config(kind), transport=handler)
        (outcome,) = await destination.send([DELIVERY])
        await destination.aclose()
        return outcome

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DESTINATION_SECRET", SECRET)


def test_mailchimp_basic_auth_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    assert send("mailchimp", httpx.MockTransport(handler)).status == 200
    (request,) = seen
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"cdc-sync:{SECRET}".encode()).decode()
    )
    assert request.headers["idempotency-key"] == "key-1"
    assert request.url.path == "/3.0/lists/l/members/h"


def test_zendesk_token_auth() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(201, json={})

    send("zendesk", httpx.MockTransport(handler))
    assert seen == ["Basic " + base64.b64encode(f"agent@example.com/token:{SECRET}".encode()).decode()]


def test_webhook_destination_signs_with_standard_webhooks() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        verify(SECRET, headers, request.content, now=datetime.now(UTC).timestamp())
        return httpx.Response(204)

    assert send("webhook", httpx.MockTransport(handler)).status == 204


def test_failures_become_outcomes_not_exceptions() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "7"})

    assert send("mailchimp", httpx.MockTransport(timeout)).failure == "timeout"
    assert send("mailchimp", httpx.MockTransport(refused)).failure == "network"
    assert send("mailchimp", httpx.MockTransport(throttled)).retry_after_s == 7.0
