"""Vendor readers over httpx.MockTransport (and over the Zendesk sandbox app in-process):
paging, the destination's auth, and what 404, 429, 5xx and 401 make of a read."""

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cdc_sync.config import DestinationConfig, DestinationKind
from cdc_sync.errors import ConfigError
from cdc_sync.repair.readers import VendorApi, VendorUnreadable, open_reader
from cdc_sync.vendors.plugin import Page, VendorReader
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import settings

SECRET = "reader-test-secret"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_READER_SECRET", SECRET)


def config(kind: DestinationKind, **overrides: Any) -> DestinationConfig:
    values: dict[str, Any] = {
        "kind": kind,
        "system": "marketing",
        "base_url": "http://vendor",
        "tables": ("public.contacts",),
        "credential_env": "TEST_READER_SECRET",
        "list_id": "aud",
        "agent_email": "agent@example.com",
        "rate_limit_per_s": 10_000,
        "max_compensations": 2,
        "backoff_base_s": 0.001,
    }
    return DestinationConfig(**(values | overrides))


def reader(kind: DestinationKind, transport: httpx.AsyncBaseTransport, **overrides: Any) -> VendorReader:
    found = open_reader("d", config(kind, **overrides), transport)
    assert found is not None
    return found


def collect(source: VendorReader) -> list[Page]:
    async def go() -> list[Page]:
        try:
            return [page async for page in source.pages()]
        finally:
            await source.aclose()

    return asyncio.run(go())


def test_mailchimp_members_are_paged_by_count_and_offset_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset = int(request.url.params["offset"])
        members = [{"id": f"m{n}"} for n in range(offset, min(offset + 1000, 2500))]
        return httpx.Response(200, json={"members": members, "total_items": 2500})

    pages = collect(reader("mailchimp", httpx.MockTransport(handler)))
    assert [len(page.items) for page in pages] == [1000, 1000, 500]
    assert {page.total for page in pages} == {2500}
    assert [(r.url.path, dict(r.url.params)) for r in seen][1] == (
        "/3.0/lists/aud/members",
        {"count": "1000", "offset": "1000"},
    )
    assert (
        seen[0].headers["authorization"]
        == "Basic " + base64.b64encode(f"cdc-sync:{SECRET}".encode()).decode()
    )


def test_zendesk_users_follow_the_after_cursor_while_has_more() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        after = request.url.params.get("page[after]")
        meta = {"has_more": after is None, "after_cursor": "c1" if after is None else "c2"}
        return httpx.Response(200, json={"users": [{"id": len(seen)}], "meta": meta, "links": {}})

    pages = collect(reader("zendesk", httpx.MockTransport(handler)))
    assert [page.items for page in pages] == [({"id": 1},), ({"id": 2},)]
    assert seen == [{"page[size]": "100"}, {"page[size]": "100", "page[after]": "c1"}]


def test_zendesk_reader_walks_the_sandbox_list_endpoint() -> None:
    app = create_zendesk_app(settings())

    async def seed_then_read() -> list[Page]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://vendor",
            auth=("agent@example.com/token", "sandbox-zendesk-token"),
        ) as sandbox:
            for n in range(1, 251):
                user = {"email": f"u{n}@example.com", "name": f"U {n}", "external_id": str(n)}
                await sandbox.post("/api/v2/users/create_or_update", json={"user": user})
        source = reader("zendesk", httpx.ASGITransport(app=app))
        try:
            return [page async for page in source.pages()]
        finally:
            await source.aclose()

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_READER_SECRET", "sandbox-zendesk-token")
        pages = asyncio.run(seed_then_read())
    assert [len(page.items) for page in pages] == [100, 100, 50]
    assert [user["external_id"] for page in pages for user in page.items] == [str(n) for n in range(1, 251)]


def one(kind: DestinationKind, handler: Handler, key: str = "k") -> dict[str, Any] | None:
    async def go() -> dict[str, Any] | None:
        source = reader(kind, httpx.MockTransport(handler))
        try:
            return await source.one(key)
        finally:
            await source.aclose()

    return asyncio.run(go())


def test_one_record_absent_at_the_vendor_is_none() -> None:
    assert one("mailchimp", lambda request: httpx.Response(404, json={"status": 404})) is None
    empty = one("zendesk", lambda request: httpx.Response(200, json={"users": [], "count": 0}))
    assert empty is None
    found = one(
        "zendesk",
        lambda r: httpx.Response(200, json={"users": [{"external_id": r.url.params["external_id"]}]}),
    )
    assert found == {"external_id": "k"}


def test_rate_limited_reads_wait_for_retry_after_then_succeed() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"id": "k"})]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> dict[str, Any] | None:
        api = VendorApi("d", config("mailchimp"), httpx.MockTransport(lambda r: answers.pop(0)), sleep=sleep)
        try:
            return await api.get("/3.0/lists/aud/members/k")
        finally:
            await api.aclose()

    assert asyncio.run(go()) == {"id": "k"}
    assert waits == [7.0]


def test_a_vendor_that_keeps_failing_is_unreadable_after_the_compensations() -> None:
    calls: list[int] = []

    def failing(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, text="down")

    with pytest.raises(VendorUnreadable, match="HTTP 503"):
        one("mailchimp", failing)
    assert len(calls) == 3  # the first try and max_compensations=2 retries


def test_a_refused_credential_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="refused the credential"):
        one("zendesk", lambda request: httpx.Response(401, json={"error": "Couldn't authenticate you"}))


def test_webhook_destinations_cannot_be_read_back() -> None:
    assert open_reader("hooks", config("webhook")) is None


@pytest.mark.parametrize("kind", ["mailchimp", "zendesk"])
def test_a_listing_that_404s_fails_instead_of_reading_as_an_empty_vendor(kind: DestinationKind) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"detail": "no such list"}))
    with pytest.raises(VendorUnreadable, match="HTTP 404"):
        collect(reader(kind, transport))
