"""Helpdesk history through Zendesk's cursor-based incremental ticket export: each ticket as it
is now, merged as a `ticket.created` (a new CRM case, or the changes onto the case the CRM has,
older than what the CRM already took from a later event left alone by the staleness rule)."""

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.inbound import DEFERRABLE, InboundEvent
from cdc_sync.vendors.plugin import Backfill, BackfillPage, BackfillStart, ReadApi
from cdc_sync.vendors.zendesk.webhooks import RATINGS, ZendeskTicket, ticket_data

SOURCE = "helpdesk"  # merged as the event webhooks' events
EXPORT = "/api/v2/incremental/tickets/cursor.json"
# Zendesk allows 10 incremental export requests a minute (30 with its high-volume add-on).
PER_MINUTE = 8
PAGE_SIZE = 1000


def ticket_events(tickets: Iterable[Mapping[str, Any]]) -> list[InboundEvent]:
    """Exported tickets → events; one a ticket at one `updated_at` (a second export of the same
    version is the same event). A ticket the export lists without a readable shape is skipped."""
    events = []
    for raw in tickets:
        try:
            ticket = ZendeskTicket.model_validate(raw)
        except ValidationError:
            continue
        at = ticket.updated_at or ticket.created_at
        if at is None:
            continue
        rating = (raw.get("satisfaction_rating") or {}).get("score")
        data = {**ticket_data(ticket), "satisfaction_score": RATINGS.get(str(rating))}
        events.append(
            InboundEvent(
                source=SOURCE,
                event_id=f"export:{ticket.id}:{at.isoformat()}",
                kind="ticket.created",
                entity=f"ticket:{ticket.id}",
                occurred_at=at,
                data=data,
                priority=DEFERRABLE,
            )
        )
    return events


async def export_pages(
    api: ReadApi, config: DestinationConfig, start: BackfillStart
) -> AsyncIterator[BackfillPage]:
    """Pages from `start_time` (or the cursor to resume after) until `end_of_stream`."""
    after = start.after
    while True:
        where = {"cursor": after} if after else {"start_time": int(start.since.timestamp())}
        body = await api.get(EXPORT, {**where, "per_page": start.page_size}) or {}
        tickets = body.get("tickets") or []
        after = body.get("after_cursor") or after
        yield BackfillPage(tuple(ticket_events(tickets)), len(tickets), after or "")
        if body.get("end_of_stream") or not body.get("after_cursor"):
            return


BACKFILL = Backfill(
    pages=export_pages,
    per_minute=PER_MINUTE,
    page_size=PAGE_SIZE,
    reads="Zendesk's incremental ticket export",
)
