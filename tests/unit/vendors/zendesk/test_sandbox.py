"""Zendesk users and seeded tickets."""

from typing import Any

import httpx
import pytest

from cdc_sync.sandbox.server import SandboxSettings
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import ZENDESK_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio

USER_KEYS = {
    "id",
    "url",
    "email",
    "name",
    "phone",
    "external_id",
    "user_fields",
    "active",
    "created_at",
    "updated_at",
}


def zendesk(clock: FakeClock | None = None) -> httpx.AsyncClient:
    return client(create_zendesk_app(settings(), clock=clock or FakeClock(0.0)), ZENDESK_AUTH)


async def create_or_update(sandbox: httpx.AsyncClient, **user: Any) -> httpx.Response:
    return await sandbox.post("/api/v2/users/create_or_update", json={"user": user})


async def test_create_then_update_by_external_id() -> None:
    clock = FakeClock(0.0)
    async with zendesk(clock) as sandbox:
        created = await create_or_update(
            sandbox, email="ada@example.com", name="Ada", external_id="crm-1", user_fields={"tier": "gold"}
        )
        clock.advance(60)
        updated = await create_or_update(
            sandbox,
            email="ada@new.example.com",
            name="Ada L",
            external_id="crm-1",
            user_fields={"plan": "pro"},
        )
    assert created.status_code == 201
    user = created.json()["user"]
    assert set(user) == USER_KEYS
    assert (user["id"], user["url"]) == (1, "http://sandbox.test/api/v2/users/1.json")
    assert user["created_at"] == "1970-01-01T00:00:00Z"
    assert updated.status_code == 200
    changed = updated.json()["user"]
    assert (changed["id"], changed["email"], changed["name"]) == (1, "ada@new.example.com", "Ada L")
    assert changed["user_fields"] == {"tier": "gold", "plan": "pro"}
    assert (changed["created_at"], changed["updated_at"]) == ("1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z")


async def test_without_external_id_it_matches_by_email_case_insensitively() -> None:
    async with zendesk() as sandbox:
        await create_or_update(sandbox, email="ada@example.com", name="Ada")
        updated = await create_or_update(sandbox, email="ADA@example.com", name="Ada", phone="+4420")
        other = await create_or_update(sandbox, email="bob@example.com", name="Bob")
    assert (updated.status_code, updated.json()["user"]["id"], updated.json()["user"]["phone"]) == (
        200,
        1,
        "+4420",
    )
    assert (other.status_code, other.json()["user"]["id"]) == (201, 2)


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"email": "ada@example.com"}, "name"),
        ({"name": "Ada"}, "email"),
        ({"name": "Ada", "email": "ada"}, "email"),
    ],
)
async def test_missing_or_bad_name_or_email_is_record_invalid(user: dict[str, Any], field: str) -> None:
    async with zendesk() as sandbox:
        response = await sandbox.post("/api/v2/users/create_or_update", json={"user": user})
    body = response.json()
    assert response.status_code == 422
    assert (body["error"], body["description"]) == ("RecordInvalid", "Record validation errors")
    assert field in body["details"]


async def test_show_user_and_not_found_shape() -> None:
    async with zendesk() as sandbox:
        await create_or_update(sandbox, email="ada@example.com", name="Ada")
        shown = await sandbox.get("/api/v2/users/1")
        missing = await sandbox.get("/api/v2/users/99")
    assert shown.json()["user"]["email"] == "ada@example.com"
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "RecordNotFound", "description": "Not found"},
    )


async def test_search_by_external_id_and_by_query() -> None:
    async with zendesk() as sandbox:
        await create_or_update(sandbox, email="ada@example.com", name="Ada Lovelace", external_id="crm-1")
        await create_or_update(sandbox, email="bob@example.com", name="Bob", external_id="crm-2")
        by_external_id = (await sandbox.get("/api/v2/users/search", params={"external_id": "crm-2"})).json()
        by_email = (
            await sandbox.get("/api/v2/users/search", params={"query": "type:user email:ADA@example.com"})
        ).json()
        by_text = (await sandbox.get("/api/v2/users/search", params={"query": "lovelace"})).json()
        nothing = (await sandbox.get("/api/v2/users/search", params={"external_id": "crm-9"})).json()
    assert (by_external_id["count"], by_external_id["users"][0]["name"]) == (1, "Bob")
    assert [user["id"] for user in by_email["users"]] == [1]
    assert [user["id"] for user in by_text["users"]] == [1]
    assert nothing == {"users": [], "count": 0}


async def test_seeded_tickets_are_served() -> None:
    ticket = {
        "id": 42,
        "subject": "Refund",
        "status": "open",
        "priority": "high",
        "requester_id": 1,
        "via": "email",
    }
    async with zendesk() as sandbox:
        seeded = await sandbox.post("/_sandbox/tickets", json={"tickets": [ticket]})
        shown = (await sandbox.get("/api/v2/tickets/42")).json()["ticket"]
        missing = await sandbox.get("/api/v2/tickets/7")
        refused = await sandbox.post("/_sandbox/tickets", json={"tickets": [{"subject": "no id"}]})
    assert seeded.status_code == 201
    assert {key: shown[key] for key in ticket} == ticket
    assert shown["url"] == "http://sandbox.test/api/v2/tickets/42.json"
    assert missing.status_code == 404
    assert (refused.status_code, "tickets.0.id" in str(refused.json())) == (422, True)


@pytest.mark.parametrize(
    "auth",
    [None, ("agent@example.com/token", "wrong"), ("agent@example.com", "sandbox-zendesk-token")],
)
async def test_authentication_failures(auth: tuple[str, str] | None) -> None:
    async with client(create_zendesk_app(settings()), auth) as sandbox:
        response = await sandbox.get("/api/v2/users/1")
    assert (response.status_code, response.json()) == (401, {"error": "Couldn't authenticate you"})


async def test_the_token_comes_from_settings() -> None:
    app = create_zendesk_app(SandboxSettings(zendesk_api_token="t-123"))
    async with client(app, ("x@example.com/token", "t-123")) as sandbox:
        response = await sandbox.get("/api/v2/users/search", params={"query": "x"})
    assert response.json() == {"users": [], "count": 0}
