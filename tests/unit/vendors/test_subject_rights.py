"""Each vendor's SubjectRights against its sandbox app in-process: export finds the person's
records, erase removes them for good and a re-run finds nothing left; the call center says it
cannot."""

import asyncio
from typing import Any

import httpx
import pytest

from cdc_sync.config import DestinationConfig, DestinationKind
from cdc_sync.repair.readers import VendorApi
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app
from cdc_sync.vendors.plugin import Subject, SubjectRights
from cdc_sync.vendors.registry import VENDORS
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import settings

EMAIL = "Erase.Me@Example.com"


def config(kind: DestinationKind, system: str) -> DestinationConfig:
    return DestinationConfig(
        kind=kind,
        system=system,
        base_url="http://vendor",
        tables=("public.contacts",),
        credential_env="TEST_SUBJECT_SECRET",
        list_id="aud",
        agent_email="agent@example.com",
        rate_limit_per_s=10_000,
        max_compensations=1,
        backoff_base_s=0.001,
    )


def rights(kind: str) -> SubjectRights:
    found = VENDORS[kind].subject_rights
    assert found is not None
    return found


async def run_rights(
    kind: DestinationKind, transport: httpx.AsyncBaseTransport, subject: Subject
) -> list[Any]:
    cfg, found = config(kind, "marketing" if kind == "mailchimp" else "helpdesk"), rights(kind)
    assert found.export is not None and found.erase is not None
    api = VendorApi("d", cfg, transport)
    try:
        return [
            await found.export(api, cfg, subject),
            await found.erase(api, cfg, subject),
            await found.erase(api, cfg, subject),
            await found.export(api, cfg, subject),
        ]
    finally:
        await api.aclose()


def test_mailchimp_exports_then_erases_the_member_of_the_contacts_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SUBJECT_SECRET", "sandbox-mailchimp-key")
    app = create_mailchimp_app(settings())

    async def go() -> list[Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vendor") as c:
            member = {"email_address": EMAIL, "status_if_new": "transactional"}
            put = await c.put(
                f"/3.0/lists/aud/members/{subscriber_hash(EMAIL)}",
                json=member,
                auth=("x", "sandbox-mailchimp-key"),
            )
            assert put.status_code == 200
        return await run_rights("mailchimp", httpx.ASGITransport(app=app), Subject(5, EMAIL.lower()))

    exported, erased, again, after = asyncio.run(go())
    assert exported["email_address"] == EMAIL
    assert (erased, again, after) == (True, False, None)


def test_zendesk_exports_then_erases_users_by_ref_and_external_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SUBJECT_SECRET", "sandbox-zendesk-token")
    app = create_zendesk_app(settings())

    async def go() -> list[Any]:
        auth = ("agent@example.com/token", "sandbox-zendesk-token")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://vendor", auth=auth
        ) as c:
            for email, external_id in ((EMAIL, "5"), ("other@example.com", "6")):
                user = {"email": email, "name": "Ann", "external_id": external_id}
                assert (await c.post("/api/v2/users/create_or_update", json={"user": user})).is_success
            await c.delete("/api/v2/users/1")  # half-erased by an interrupted run: soft-deleted only
        subject = Subject(5, EMAIL.lower(), refs=("1",))
        found = await run_rights("zendesk", httpx.ASGITransport(app=app), subject)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://vendor", auth=auth
        ) as c:
            left = (await c.get("/api/v2/users")).json()["users"]
        return [*found, left]

    exported, erased, again, after, left = asyncio.run(go())
    assert [user["deleted_user"]["email"] for user in exported] == [EMAIL]
    assert (erased, again, after) == (True, False, None)
    assert [user["external_id"] for user in left] == ["6"]


def test_the_call_center_says_it_cannot_erase() -> None:
    found = rights("callcenter")
    assert found.erase is None and found.export is None
    assert "no person lookup or deletion" in found.unsupported
