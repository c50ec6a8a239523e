"""Zendesk's list users endpoint: cursor pagination as Zendesk documents it, and offset
pagination for requests without `page[size]`."""

from typing import Any

import httpx
import pytest

from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app
from tests.unit.sandbox.fakes import ZENDESK_AUTH, FakeClock, client, settings

pytestmark = pytest.mark.anyio


def zendesk() -> httpx.AsyncClient:
    return client(create_zendesk_app(settings(), clock=FakeClock(0.0)), ZENDESK_AUTH)


async def add_users(sandbox: httpx.AsyncClient, count: int) -> None:
    for n in range(1, count + 1):
        user = {"email": f"u{n}@example.com", "name": f"User {n}", "external_id": str(n)}
        await sandbox.post("/api/v2/users/create_or_update", json={"user": user})


async def test_following_links_next_while_has_more_visits_every_user_once_in_order() -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 5)
        pages: list[dict[str, Any]] = [(await sandbox.get("/api/v2/users", params={"page[size]": 2})).json()]
        while pages[-1]["meta"]["has_more"]:
            pages.append((await sandbox.get(pages[-1]["links"]["next"])).json())
    assert [[user["external_id"] for user in page["users"]] for page in pages] == [
        ["1", "2"],
        ["3", "4"],
        ["5"],
    ]
    assert [page["meta"]["has_more"] for page in pages] == [True, True, False]
    first = pages[0]
    assert first["links"]["next"] == (
        f"http://sandbox.test/api/v2/users.json?page[size]=2&page[after]={first['meta']['after_cursor']}"
    )
    assert first["meta"]["before_cursor"] != first["meta"]["after_cursor"]


async def test_page_after_and_page_before_move_from_a_cursor() -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 5)
        middle = (
            await sandbox.get("/api/v2/users", params={"page[size]": 2, "page[after]": "aWQ6Mg"})
        ).json()
        cursor = middle["meta"]["before_cursor"]
        back = (await sandbox.get("/api/v2/users", params={"page[size]": 2, "page[before]": cursor})).json()
    assert [user["id"] for user in middle["users"]] == [3, 4]
    assert [user["id"] for user in back["users"]] == [1, 2]
    assert back["meta"]["has_more"] is False


async def test_an_empty_list_has_no_cursors() -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 0)
        body = (await sandbox.get("/api/v2/users.json", params={"page[size]": 100})).json()
    assert body == {
        "users": [],
        "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
        "links": {"next": None, "prev": None},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"page[size]": 101},
        {"page[size]": 0},
        {"page[size]": "ten"},
        {"page[size]": 2, "page[after]": "bogus!"},
    ],
)
async def test_bad_page_sizes_and_cursors_are_refused(params: dict[str, Any]) -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 1)
        response = await sandbox.get("/api/v2/users", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"


async def test_without_page_size_it_pages_by_offset() -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 3)
        second = (await sandbox.get("/api/v2/users", params={"page": 2, "per_page": 2})).json()
    assert [user["id"] for user in second["users"]] == [3]
    assert second["count"] == 3 and second["next_page"] is None
    assert second["previous_page"] == "http://sandbox.test/api/v2/users.json?page=1&per_page=2"


async def test_listing_needs_the_api_token() -> None:
    async with zendesk() as sandbox:
        await add_users(sandbox, 1)
        response = await sandbox.get(
            "/api/v2/users", params={"page[size]": 1}, auth=("agent@example.com", "x")
        )
    assert response.status_code == 401
