"""Mailchimp members, tags, archive and batch subscribe: shapes and refusals."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.mailchimp.sandbox import create_mailchimp_app, subscriber_hash
from tests.unit.sandbox.fakes import MAILCHIMP_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio

LIST = "/3.0/lists/list-1"
MEMBER_KEYS = {
    "id",
    "email_address",
    "unique_email_id",
    "status",
    "merge_fields",
    "language",
    "tags",
    "tags_count",
    "last_changed",
    "list_id",
}


def member_path(email: str, list_path: str = LIST) -> str:
    return f"{list_path}/members/{subscriber_hash(email)}"


def mailchimp() -> httpx.AsyncClient:
    return client(create_mailchimp_app(settings(), clock=FakeClock(0.0)), MAILCHIMP_AUTH)


async def upsert(sandbox: httpx.AsyncClient, email: str, **fields: Any) -> httpx.Response:
    return await sandbox.put(member_path(email), json={"email_address": email, **fields})


def test_subscriber_hash_is_md5_of_the_lower_cased_email() -> None:
    assert subscriber_hash("Urist.McVankab@FreddiesJokes.com") == "62eeb292278cc15f5817cb78f7790b08"


async def test_new_member_takes_status_if_new_and_has_the_member_shape() -> None:
    async with mailchimp() as sandbox:
        response = await upsert(
            sandbox, "Ada@Example.com", status_if_new="pending", merge_fields={"FNAME": "Ada"}
        )
    member = response.json()
    assert response.status_code == 200
    assert set(member) == MEMBER_KEYS
    assert (member["id"], member["status"], member["list_id"]) == (
        subscriber_hash("ada@example.com"),
        "pending",
        "list-1",
    )
    assert (member["merge_fields"], member["tags"], member["tags_count"]) == ({"FNAME": "Ada"}, [], 0)
    assert member["last_changed"] == "1970-01-01T00:00:00+00:00"


async def test_update_merges_merge_fields_and_status_overrides() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "ada@example.com", status_if_new="subscribed", merge_fields={"FNAME": "Ada"})
        response = await upsert(
            sandbox, "ada@example.com", status="unsubscribed", merge_fields={"LNAME": "L"}, language="fr"
        )
    member = response.json()
    assert (member["status"], member["language"]) == ("unsubscribed", "fr")
    assert member["merge_fields"] == {"FNAME": "Ada", "LNAME": "L"}


@pytest.mark.parametrize(
    ("email", "body", "detail"),
    [
        ("ada@example.com", {"email_address": "ada@example.com"}, "could not be validated"),
        ("ada@example.com", {"email_address": "bob@example.com", "status_if_new": "subscribed"}, "hash"),
        ("not-an-email", {"email_address": "not-an-email", "status_if_new": "subscribed"}, "looks fake"),
        ("ada@example.com", {"email_address": "ada@example.com", "status_if_new": "happy"}, "could not be"),
        ("ada@example.com", {"status_if_new": "subscribed"}, "could not be validated"),
    ],
)
async def test_invalid_upserts_are_400_problems(email: str, body: dict[str, Any], detail: str) -> None:
    async with mailchimp() as sandbox:
        response = await sandbox.put(member_path(email), json=body)
        missing = await sandbox.get(member_path(email))
    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    assert (problem["title"], problem["status"]) == ("Invalid Resource", 400)
    assert detail in problem["detail"]
    assert missing.status_code == 404


async def test_non_json_body_is_a_400_problem() -> None:
    async with mailchimp() as sandbox:
        response = await sandbox.put(member_path("ada@example.com"), content=b"email=ada")
    assert response.status_code == 400


async def test_delete_archives_and_missing_members_are_404() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "ada@example.com", status_if_new="subscribed")
        deleted = await sandbox.delete(member_path("ada@example.com"))
        member = (await sandbox.get(member_path("ada@example.com"))).json()
        missing = await sandbox.delete(member_path("nobody@example.com"))
    assert (deleted.status_code, member["status"]) == (204, "archived")
    assert (missing.status_code, missing.json()["title"]) == (404, "Resource Not Found")


async def test_archived_member_comes_back_with_status_if_new() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "ada@example.com", status_if_new="subscribed", merge_fields={"FNAME": "Ada"})
        await sandbox.delete(member_path("ada@example.com"))
        response = await upsert(sandbox, "ada@example.com", status_if_new="pending")
    assert (response.json()["status"], response.json()["merge_fields"]) == ("pending", {"FNAME": "Ada"})


async def test_tags_active_adds_and_inactive_removes() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "ada@example.com", status_if_new="subscribed")
        tags = member_path("ada@example.com") + "/tags"
        added = await sandbox.post(
            tags, json={"tags": [{"name": "vip", "status": "active"}, {"name": "beta", "status": "active"}]}
        )
        await sandbox.post(tags, json={"tags": [{"name": "vip", "status": "inactive"}]})
        member = (await sandbox.get(member_path("ada@example.com"))).json()
    assert added.status_code == 204
    assert (member["tags"], member["tags_count"]) == ([{"id": 2, "name": "beta"}], 1)


@pytest.mark.parametrize(
    ("email", "body", "status"),
    [
        ("nobody@example.com", {"tags": [{"name": "vip", "status": "active"}]}, 404),
        ("ada@example.com", {"tags": [{"name": "vip", "status": "on"}]}, 400),
        ("ada@example.com", {"tags": "vip"}, 400),
    ],
)
async def test_tag_refusals(email: str, body: dict[str, Any], status: int) -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "ada@example.com", status_if_new="subscribed")
        response = await sandbox.post(member_path(email) + "/tags", json=body)
    assert (response.status_code, response.json()["status"]) == (status, status)


async def test_list_pages_members_in_creation_order_per_list() -> None:
    async with mailchimp() as sandbox:
        for name in ("c", "a", "b"):
            await upsert(sandbox, f"{name}@example.com", status_if_new="subscribed")
        await sandbox.put(
            member_path("z@example.com", "/3.0/lists/other"),
            json={"email_address": "z@example.com", "status_if_new": "subscribed"},
        )
        page = (await sandbox.get(f"{LIST}/members", params={"count": 2, "offset": 1})).json()
        bad = await sandbox.get(f"{LIST}/members", params={"count": "many"})
    assert [member["email_address"] for member in page["members"]] == ["a@example.com", "b@example.com"]
    assert (page["list_id"], page["total_items"]) == ("list-1", 3)
    assert bad.status_code == 400


async def test_batch_creates_updates_and_reports_errors() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "old@example.com", status_if_new="subscribed")
        members = [
            {"email_address": "new@example.com", "status": "subscribed", "merge_fields": {"FNAME": "N"}},
            {"email_address": "old@example.com", "status": "unsubscribed"},
            {"email_address": "broken", "status": "subscribed"},
        ]
        response = await sandbox.post(LIST, json={"members": members, "update_existing": True})
    result = response.json()
    assert response.status_code == 200
    assert [m["email_address"] for m in result["new_members"]] == ["new@example.com"]
    assert [m["status"] for m in result["updated_members"]] == ["unsubscribed"]
    assert result["errors"][0]["email_address"] == "broken"
    assert set(result["errors"][0]) == {"email_address", "error", "error_code"}
    assert (result["total_created"], result["total_updated"], result["error_count"]) == (1, 1, 1)


async def test_batch_without_update_existing_refuses_known_members() -> None:
    async with mailchimp() as sandbox:
        await upsert(sandbox, "old@example.com", status_if_new="subscribed")
        body = {"members": [{"email_address": "old@example.com", "status": "unsubscribed"}]}
        result = (await sandbox.post(LIST, json=body)).json()
        member = (await sandbox.get(member_path("old@example.com"))).json()
    assert result["errors"][0]["error_code"] == "ERROR_CONTACT_EXISTS"
    assert member["status"] == "subscribed"


async def test_batch_of_more_than_500_members_is_refused() -> None:
    members = [{"email_address": f"m{n}@example.com", "status": "subscribed"} for n in range(501)]
    async with mailchimp() as sandbox:
        response = await sandbox.post(LIST, json={"members": members})
        listed = (await sandbox.get(f"{LIST}/members")).json()
    assert response.status_code == 400
    assert listed["total_items"] == 0


@pytest.mark.parametrize(
    ("auth", "title"),
    [(None, "API Key Missing"), (("anystring", "wrong-key"), "API Key Invalid")],
)
async def test_authentication_failures_are_401_problems(auth: tuple[str, str] | None, title: str) -> None:
    async with client(create_mailchimp_app(settings()), auth) as sandbox:
        response = await sandbox.get(f"{LIST}/members")
    assert (response.status_code, response.headers["content-type"]) == (401, "application/problem+json")
    assert response.json()["title"] == title
