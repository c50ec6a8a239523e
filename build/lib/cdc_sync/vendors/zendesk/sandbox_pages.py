"""Zendesk's two ways of paging a list: cursor pagination (`page[size]`, `page[after]`,
`page[before]`; `meta` and `links` in the response) and offset pagination (`page`,
`per_page`; `next_page`, `previous_page`, `count`), as the Support API documents them."""

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

MAX_PAGE_SIZE = 100  # the users endpoint's limit, for both kinds of pagination


class BadPage(Exception):
    """A page size, page number or cursor a list endpoint cannot use (400)."""


def cursor_of(record_id: int) -> str:
    """Opaque to clients, as Zendesk's cursors are (URL-safe, so links need no escaping)."""
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode().rstrip("=")


def cursor_position(cursor: str) -> int:
    """The record id a cursor points at; `BadPage` for anything this sandbox did not hand out."""
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    kind, _, position = decoded.partition(":")
    if kind != "id" or not position.isascii() or not position.isdigit():
        raise BadPage(f"Invalid cursor {cursor!r}")
    return int(position)


def page_size(params: Mapping[str, str], name: str, default: int = MAX_PAGE_SIZE) -> int:
    """A positive page size or number; sizes are capped at `MAX_PAGE_SIZE`, numbers are not."""
    maximum = MAX_PAGE_SIZE if name != "page" else None
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= (maximum or int(raw)):
        limit = f"from 1 to {maximum}" if maximum else "of at least 1"
        raise BadPage(f"{name} must be an integer {limit}, got {raw!r}")
    return int(raw)


def cursor_page(
    resource: str, items: list[dict[str, Any]], has_more: bool, size: int, list_url: str
) -> dict[str, Any]:
    """One page of `items` (ordered by id); clients follow `links.next` while `meta.has_more`."""
    after, before = (cursor_of(items[-1]["id"]), cursor_of(items[0]["id"])) if items else (None, None)

    def link(direction: str, cursor: str | None) -> str | None:
        return f"{list_url}?page[size]={size}&page[{direction}]={cursor}" if cursor else None

    return {
        resource: items,
        "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
        "links": {"next": link("after", after), "prev": link("before", before)},
    }


def offset_page(
    resource: str, everything: Sequence[Any], params: Mapping[str, str], list_url: str
) -> dict[str, Any]:
    """The `page`-th slice of `per_page` records of `everything`, with Zendesk's offset links."""
    page, per_page = page_size(params, "page", 1), page_size(params, "per_page")

    def link(number: int) -> str:
        return f"{list_url}?page={number}&per_page={per_page}"

    return {
        resource: everything[(page - 1) * per_page : page * per_page],
        "next_page": link(page + 1) if page * per_page < len(everything) else None,
        "previous_page": link(page - 1) if page > 1 else None,
        "count": len(everything),
    }
