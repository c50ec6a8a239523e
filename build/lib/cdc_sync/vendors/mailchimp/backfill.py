"""Marketing history through the audience's members, `count`/`offset` paged: each member's
subscription status as the list webhook would have reported it (subscribe, unsubscribe with its
reason, cleaned), merged by the same consent rules. Profiles are not read back: the CRM owns
contact master data, and the platform's profile edits arrive as conflicts through the webhook."""

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.inbound import DEFERRABLE, InboundEvent
from cdc_sync.vendors.mailchimp.options import MailchimpOptions
from cdc_sync.vendors.mailchimp.reader import MAILCHIMP_PAGE
from cdc_sync.vendors.mailchimp.webhooks import MailchimpListEvent, list_event
from cdc_sync.vendors.plugin import Backfill, BackfillPage, BackfillStart, ReadApi

SOURCE = "marketing-lists"  # merged as the list webhooks' events
# Member status → the list webhook's type; other statuses (pending, transactional, archived)
# say nothing about consent the CRM does not know.
WEBHOOK_TYPES = {"subscribed": "subscribe", "unsubscribed": "unsubscribe", "cleaned": "cleaned"}
# Mailchimp limits connections (10 at once), not requests a minute; one page at a time is well below.
PER_MINUTE = 120


def member_events(members: Iterable[Mapping[str, Any]], list_id: str) -> list[InboundEvent]:
    """Members → list events; a member at one `last_changed` is one event, the same id as the
    webhook Mailchimp fired for that change (so a change already received is not merged twice)."""
    events = []
    for member in members:
        kind = WEBHOOK_TYPES.get(str(member.get("status")))
        if kind is None:
            continue
        hook = {
            "type": kind,
            "fired_at": member.get("last_changed"),
            "data": {
                "email": member.get("email_address"),
                "list_id": member.get("list_id") or list_id,
                "reason": member.get("unsubscribe_reason"),
            },
        }
        try:
            event = list_event(SOURCE, MailchimpListEvent.model_validate(hook))
        except ValidationError:
            continue
        events.append(event.model_copy(update={"priority": DEFERRABLE}))
    return events


async def member_pages(
    api: ReadApi, config: DestinationConfig, start: BackfillStart
) -> AsyncIterator[BackfillPage]:
    """Pages of members changed since `start.since`, from the offset to resume after."""
    list_id = MailchimpOptions.of(config).list_id or ""
    path, offset = f"/3.0/lists/{list_id}/members", int(start.after or 0)
    since = start.since.isoformat()
    while True:
        params = {"count": start.page_size, "offset": offset, "since_last_changed": since}
        body = await api.get(path, params) or {}
        members, total = body.get("members") or [], int(body.get("total_items") or 0)
        offset += len(members)
        yield BackfillPage(tuple(member_events(members, list_id)), len(members), str(offset), total)
        if not members or offset >= total:
            return


BACKFILL = Backfill(
    pages=member_pages,
    per_minute=PER_MINUTE,
    page_size=MAILCHIMP_PAGE,
    reads="the audience's members, count/offset paged",
)
