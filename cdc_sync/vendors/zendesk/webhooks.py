"""Zendesk event webhooks (`/webhooks/helpdesk`, JSON) → `InboundEvent`s of kind `ticket.*`."""

from typing import Any, Literal

from pydantic import Field, JsonValue, TypeAdapter

from cdc_sync.inbound.payloads import PayloadFormat, VendorModel
from cdc_sync.model.inbound import Id, InboundEvent, Instant

ZENDESK_TYPE_PREFIX = "zen:event-type:"
ZendeskType = Literal[
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.priority_changed",
    "zen:event-type:ticket.satisfaction_rated",
]
# Which data field keeps `event.previous` for a change event.
PREVIOUS_FIELDS = {"ticket.status_changed": "previous_status", "ticket.priority_changed": "previous_priority"}


class ZendeskVia(VendorModel):
    channel: str | None = None


class ZendeskTicket(VendorModel):
    id: Id
    status: str
    priority: str | None = None
    via: ZendeskVia = ZendeskVia()
    requester_external_id: str | None = None
    satisfaction_score: int | None = Field(default=None, ge=0, le=5)
    subject: str | None = None


class ZendeskChange(VendorModel):
    previous: JsonValue = None
    current: JsonValue = None


class ZendeskEvent(VendorModel):
    id: Id
    type: ZendeskType
    time: Instant
    subject: str
    detail: ZendeskTicket
    event: ZendeskChange = ZendeskChange()


def _helpdesk_event(source: str, hook: ZendeskEvent) -> InboundEvent:
    ticket, kind = hook.detail, hook.type.removeprefix(ZENDESK_TYPE_PREFIX)
    data: dict[str, Any] = {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "previous_status": None,
        "priority": ticket.priority,
        "previous_priority": None,
        "channel": ticket.via.channel,
        "requester_external_id": ticket.requester_external_id,
        "satisfaction_score": ticket.satisfaction_score,
        "subject": ticket.subject,
    }
    if kind in PREVIOUS_FIELDS:
        data[PREVIOUS_FIELDS[kind]] = hook.event.previous
    entity = f"ticket:{ticket.id}"
    return InboundEvent(
        source=source, event_id=hook.id, kind=kind, entity=entity, occurred_at=hook.time, data=data
    )


FORMAT = PayloadFormat("application/json", TypeAdapter(ZendeskEvent), _helpdesk_event)
