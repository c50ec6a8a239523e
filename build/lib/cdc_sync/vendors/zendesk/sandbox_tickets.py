"""Zendesk tickets beyond reading one: `PUT /api/v2/tickets/{id}` with Zendesk's protection
against update collisions, and the cursor-based incremental ticket export.

- An update with `"safe_update": true` names the ticket's `updated_at` it last saw in
  `updated_stamp`; when the ticket changed since, Zendesk refuses it with 409 `UpdateConflict`
  instead of overwriting the other change.
- `GET /api/v2/incremental/tickets/cursor?start_time=<unix>` (then `?cursor=`) lists every ticket
  changed at or after `start_time`, oldest change first, up to `per_page` (1000) a page, with
  `after_cursor`/`after_url` and `end_of_stream`. As Zendesk does, changes of the last minute
  are left for a later request, so a cursor never skips a ticket updated while it pages.
"""

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.recorder import json_object
from cdc_sync.vendors.zendesk.sandbox_http import Endpoint, answering_refusals, zendesk_error
from cdc_sync.vendors.zendesk.sandbox_pages import BadPage
from cdc_sync.vendors.zendesk.sandbox_users import Helpdesk, TicketStatus, record_invalid, zendesk_time

EXPORT_PAGE = 1000  # Zendesk's page size for the incremental ticket export (and its maximum)
EXPORT_LAG_S = 60  # changes younger than this are excluded from an export


class TicketChanges(BaseModel):
    """The part of a ticket update the sandbox models; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    priority: Literal["urgent", "high", "normal", "low"] | None = None
    status: TicketStatus | None = None
    safe_update: bool = False
    updated_stamp: str | None = None


class TicketUpdate(BaseModel):
    ticket: TicketChanges


class UpdateConflict(Exception):
    """The ticket changed after the `updated_stamp` a safe update named."""


def update_ticket(helpdesk: Helpdesk, ticket_id: int, changes: TicketChanges, now: float) -> dict[str, Any]:
    ticket = helpdesk.ticket(ticket_id)
    if changes.safe_update and changes.updated_stamp != ticket["updated_at"]:
        raise UpdateConflict(f"ticket {ticket_id} was updated at {ticket['updated_at']}")
    stated = {name: value for name in ("priority", "status") if (value := getattr(changes, name)) is not None}
    if stated:
        ticket.update(stated, updated_at=zendesk_time(now))
    return ticket


Position = tuple[int, int]  # (updated_at as unix seconds, id): the export's order


def _position(ticket: Mapping[str, Any]) -> Position:
    at = datetime.fromisoformat(str(ticket["updated_at"]).replace("Z", "+00:00"))
    return int(at.timestamp()), int(ticket["id"])


def _cursor(position: Position) -> str:
    """Opaque, as Zendesk's: where the next page starts after."""
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode()


def _cursor_position(cursor: str) -> Position:
    try:
        at, _, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(at), int(ticket_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadPage(f"Invalid cursor {cursor!r}") from None


def _start(params: Mapping[str, str]) -> Position:
    if "cursor" in params:
        return _cursor_position(params["cursor"])
    if params.get("start_time", "").isdigit():
        return int(params["start_time"]), 0
    raise BadPage("start_time or cursor is required")


def _per_page(params: Mapping[str, str]) -> int:
    raw = params.get("per_page", str(EXPORT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= EXPORT_PAGE:
        raise BadPage(f"per_page must be an integer from 1 to {EXPORT_PAGE}, got {raw!r}")
    return int(raw)


def export_page(helpdesk: Helpdesk, params: Mapping[str, str], now: float, base_url: str) -> dict[str, Any]:
    """One page of the incremental export, from `start_time` or from a cursor."""
    after, size, until = _start(params), _per_page(params), int(now) - EXPORT_LAG_S
    changed = sorted(
        (position, ticket)
        for ticket in helpdesk.tickets.values()
        if after < (position := _position(ticket)) and position[0] <= until
    )
    page = changed[:size]
    cursor = _cursor(page[-1][0] if page else after)
    return {
        "tickets": [ticket for _, ticket in page],
        "after_url": f"{base_url}api/v2/incremental/tickets/cursor.json?cursor={cursor}",
        "after_cursor": cursor,
        "before_url": None,
        "before_cursor": None,
        "end_of_stream": len(changed) <= size,
    }


class TicketEndpoints:
    def __init__(self, helpdesk: Helpdesk, clock: Clock) -> None:
        self.helpdesk, self.clock = helpdesk, clock

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/api/v2/tickets/{ticket_id:int}", "PUT", self.update),
            ("/api/v2/incremental/tickets/cursor", "GET", self.export),
            ("/api/v2/incremental/tickets/cursor.json", "GET", self.export),
        ]
        return [
            Route(path, answering_refusals(endpoint), methods=[method]) for path, method, endpoint in table
        ]

    async def update(self, request: Request) -> Response:
        try:
            changes = TicketUpdate.model_validate(json_object(await request.body())).ticket
        except ValidationError as exc:
            raise record_invalid(exc) from None
        try:
            ticket = update_ticket(self.helpdesk, request.path_params["ticket_id"], changes, self.clock())
        except UpdateConflict as exc:
            return zendesk_error(409, str(exc))
        return FastJSONResponse({"ticket": ticket})

    async def export(self, request: Request) -> Response:
        page = export_page(self.helpdesk, request.query_params, self.clock(), str(request.base_url))
        return FastJSONResponse(page)
