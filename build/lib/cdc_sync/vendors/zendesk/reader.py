"""Reading the helpdesk's users back, for reconciliation."""

from collections.abc import AsyncIterator, Callable
from typing import Any

from cdc_sync.model.config import DestinationConfig
from cdc_sync.vendors.plugin import Page, ReadApi

ZENDESK_PAGE = 100  # the most `page[size]` Zendesk allows for users


class ZendeskUsers:
    """Every user, by cursor pagination (`page[size]`, then `page[after]` while `meta.has_more`)."""

    def __init__(self, api: ReadApi, page_size: int = ZENDESK_PAGE) -> None:
        self._api, self._page_size = api, page_size

    async def pages(self) -> AsyncIterator[Page]:
        params: dict[str, Any] = {"page[size]": self._page_size}
        while True:
            body = await self._api.get("/api/v2/users", params) or {}
            yield Page(tuple(body.get("users") or []))
            meta = body.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return
            params = {"page[size]": self._page_size, "page[after]": meta["after_cursor"]}

    async def one(self, key: str) -> dict[str, Any] | None:
        body = await self._api.get("/api/v2/users/search", {"external_id": key}) or {}
        users = body.get("users") or []
        return users[0] if users else None

    async def aclose(self) -> None:
        await self._api.aclose()


def open_users(name: str, config: DestinationConfig, open_api: Callable[[], ReadApi]) -> ZendeskUsers:
    return ZendeskUsers(open_api())
