"""Reading the audience back, for reconciliation."""

from collections.abc import AsyncIterator, Callable
from typing import Any

from cdc_sync.errors import ConfigError
from cdc_sync.model.config import DestinationConfig
from cdc_sync.vendors.mailchimp.options import MailchimpOptions
from cdc_sync.vendors.plugin import Page, ReadApi

MAILCHIMP_PAGE = 1000  # the most `count` Mailchimp allows


async def offset_pages(
    api: ReadApi, path: str, items: str, page_size: int = MAILCHIMP_PAGE, params: dict[str, Any] | None = None
) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
    """Each page of a Mailchimp list endpoint (`count`/`offset`): its `items` and `total_items`."""
    offset = 0
    while True:
        body = await api.get(path, {**(params or {}), "count": page_size, "offset": offset}) or {}
        page, total = body.get(items) or [], int(body.get("total_items") or 0)
        yield page, total
        offset += len(page)
        if not page or offset >= total:
            return


class MailchimpMembers:
    """The list's members, `count`/`offset` paged (archived ones included, as the API lists them)."""

    def __init__(self, api: ReadApi, list_id: str, page_size: int = MAILCHIMP_PAGE) -> None:
        self._api, self._members, self._page_size = api, f"/3.0/lists/{list_id}/members", page_size

    async def pages(self) -> AsyncIterator[Page]:
        async for members, total in offset_pages(self._api, self._members, "members", self._page_size):
            yield Page(tuple(members), total)

    async def one(self, key: str) -> dict[str, Any] | None:
        return await self._api.get(f"{self._members}/{key}", missing_ok=True)

    async def aclose(self) -> None:
        await self._api.aclose()


def open_members(name: str, config: DestinationConfig, open_api: Callable[[], ReadApi]) -> MailchimpMembers:
    list_id = MailchimpOptions.of(config).list_id
    if not list_id:
        raise ConfigError(f"destination {name}: a mailchimp destination needs list_id")
    return MailchimpMembers(open_api(), list_id)
