"""The marketing platform's webhooks: signed engagement events (`/webhooks/marketing`, JSON) and
Mailchimp's list webhooks (`/webhooks/marketing-lists`, form-encoded, no event id)."""

import hashlib
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import Field, JsonValue, TypeAdapter, model_validator

from cdc_sync.inbound.payloads import Email, NaiveUtc, PayloadFormat, VendorModel
from cdc_sync.mapping.normalize import email_key
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.inbound import Id, InboundEvent, Instant
from cdc_sync.vendors.mailchimp.options import MailchimpOptions


# --- signed engagement events
class EmailEngagement(VendorModel):
    type: Literal["email.clicked", "email.opened"]
    event_id: Id
    email: Email
    campaign_id: Id
    url: str | None = None
    occurred_at: Instant


def _engagement_event(source: str, hook: EmailEngagement) -> InboundEvent:
    return InboundEvent(
        source=source,
        event_id=hook.event_id,
        kind=hook.type,
        entity=f"email:{email_key(hook.email)}",
        occurred_at=hook.occurred_at,
        data={"email": hook.email, "campaign_id": hook.campaign_id, "url": hook.url},
    )


# --- marketing-lists: Mailchimp list webhooks (form-encoded, no event id) ---------------------------
class MailchimpListData(VendorModel):
    email: Email | None = None
    old_email: Email | None = None  # upemail carries old_email / new_email instead of email
    new_email: Email | None = None
    list_id: Id
    reason: str | None = None
    merges: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_an_address(self) -> "MailchimpListData":
        if self.email is None and self.old_email is None:
            raise ValueError("data[email] (or data[old_email] for upemail) is required")
        return self

    @property
    def address(self) -> str:
        return email_key(self.email or self.old_email)


class MailchimpListEvent(VendorModel):
    type: Literal["subscribe", "unsubscribe", "profile", "upemail", "cleaned"]
    fired_at: NaiveUtc
    data: MailchimpListData


def _list_event_id(hook: MailchimpListEvent) -> str:
    # Mailchimp sends no id; these fields are the same on every redelivery of one event.
    parts = (hook.type, hook.fired_at.isoformat(), hook.data.address, hook.data.list_id)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def list_event(source: str, hook: MailchimpListEvent) -> InboundEvent:
    list_data = hook.data
    data = {
        "email": list_data.address,
        "new_email": list_data.new_email,
        "list_id": list_data.list_id,
        "reason": list_data.reason,
        "merges": list_data.merges,
    }
    return InboundEvent(
        source=source,
        event_id=_list_event_id(hook),
        kind=f"list.{hook.type}",
        entity=f"email:{list_data.address}",
        occurred_at=hook.fired_at,
        data=data,
    )


ENGAGEMENT_FORMAT = PayloadFormat("application/json", TypeAdapter(EmailEngagement), _engagement_event)
LIST_FORMAT = PayloadFormat("application/x-www-form-urlencoded", TypeAdapter(MailchimpListEvent), list_event)


def our_lists(destinations: Mapping[str, DestinationConfig]) -> Callable[[InboundEvent], str | None]:
    """A list webhook must name an audience a mailchimp destination syncs: the URL secret alone
    must not let whoever holds it set consent for another list of the account."""
    lists = {
        list_id
        for destination in destinations.values()
        if destination.kind == "mailchimp" and (list_id := MailchimpOptions.of(destination).list_id)
    }

    def admit(event: InboundEvent) -> str | None:
        named = event.data.get("list_id")
        return None if named in lists else f"list {named!r} is not an audience cdc-sync syncs"

    return admit
