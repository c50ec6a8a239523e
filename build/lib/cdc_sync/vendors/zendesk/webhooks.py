"""Zendesk's two webhooks → `InboundEvent`s of kind `ticket.*`:

- event webhooks (`/webhooks/helpdesk`): `zen:event-type:ticket.*`, `detail` = the ticket as
  Zendesk documents it (requester, assignee and group by Zendesk id), `event` = what changed
  (`current`/`previous`, or the comment of `comment_added`);
- the satisfaction trigger (`/webhooks/helpdesk-csat`): the JSON body the README gives to paste
  into a Zendesk trigger, its placeholders filled in by Zendesk.
"""

from typing import Any, Literal

from pydantic import Field, JsonValue, TypeAdapter, field_validator

from cdc_sync.inbound.payloads import PayloadFormat, VendorModel
from cdc_sync.model.inbound import Id, InboundEvent, Instant

ZENDESK_TYPE_PREFIX = "zen:event-type:"
ZendeskType = Literal[
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.priority_changed",
    "zen:event-type:ticket.agent_assignment_changed",
    "zen:event-type:ticket.group_assignment_changed",
    "zen:event-type:ticket.comment_added",
    "zen:event-type:ticket.satisfaction_rated",
]
# Which data field keeps `event.previous` for a change event.
PREVIOUS_FIELDS = {"ticket.status_changed": "previous_status", "ticket.priority_changed": "previous_priority"}
# Satisfaction as Zendesk's `{{satisfaction.current_rating}}` renders it, on a 0-5 scale.
RATINGS = {"good": 5, "bad": 1}


def vendor_ref(value: str | None) -> str | None:
    """A Zendesk id, or None for none (Zendesk writes an unset id as null or "0")."""
    return None if value in (None, "", "0") else value


class ZendeskVia(VendorModel):
    channel: str | None = None


class ZendeskTicket(VendorModel):
    """`detail` of a ticket event: the ticket, its people by Zendesk id."""

    id: Id
    status: str
    priority: str | None = None
    via: ZendeskVia = ZendeskVia()
    subject: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = ()
    requester_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    organization_id: str | None = None
    created_at: Instant | None = None
    updated_at: Instant | None = None
    due_at: Instant | None = None  # set on task tickets: the CRM's SLA due date
    # Not Zendesk's, kept for integrations that put them into `detail` themselves.
    requester_external_id: str | None = None
    satisfaction_score: int | None = Field(default=None, ge=0, le=5)


class ZendeskAuthor(VendorModel):
    id: str | None = None
    name: str | None = None
    is_staff: bool = False


class ZendeskComment(VendorModel):
    id: Id
    body: str = ""
    is_public: bool = True
    author: ZendeskAuthor = ZendeskAuthor()


class ZendeskChange(VendorModel):
    previous: JsonValue = None
    current: JsonValue = None
    comment: ZendeskComment | None = None  # ticket.comment_added


class ZendeskEvent(VendorModel):
    id: Id
    type: ZendeskType
    time: Instant
    subject: str
    detail: ZendeskTicket
    event: ZendeskChange = ZendeskChange()


def _comment(comment: ZendeskComment | None) -> dict[str, Any] | None:
    if comment is None:
        return None
    author = comment.author
    return {
        "id": comment.id,
        "body": comment.body,
        "public": comment.is_public,
        "author_ref": vendor_ref(author.id),
        "author_name": author.name,
        "by_agent": author.is_staff,
    }


def ticket_data(ticket: ZendeskTicket) -> dict[str, Any]:
    """The ticket's fields as its events' data (change-specific ones empty)."""
    return {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "previous_status": None,
        "priority": ticket.priority,
        "previous_priority": None,
        "channel": ticket.via.channel,
        "subject": ticket.subject,
        "category": ticket.type,
        "tags": list(ticket.tags),
        "requester_ref": vendor_ref(ticket.requester_id),
        "assignee_ref": vendor_ref(ticket.assignee_id),
        "queue": vendor_ref(ticket.group_id),
        "account_ref": vendor_ref(ticket.organization_id),
        "opened_at": None if ticket.created_at is None else ticket.created_at.isoformat(),
        "helpdesk_updated_at": None if ticket.updated_at is None else ticket.updated_at.isoformat(),
        "sla_due_at": None if ticket.due_at is None else ticket.due_at.isoformat(),
        "requester_external_id": ticket.requester_external_id,
        "satisfaction_score": ticket.satisfaction_score,
        "comment": None,
    }


def _helpdesk_event(source: str, hook: ZendeskEvent) -> InboundEvent:
    ticket, kind = hook.detail, hook.type.removeprefix(ZENDESK_TYPE_PREFIX)
    data = {**ticket_data(ticket), "comment": _comment(hook.event.comment)}
    if kind in PREVIOUS_FIELDS:
        data[PREVIOUS_FIELDS[kind]] = hook.event.previous
    return InboundEvent(
        source=source,
        event_id=hook.id,
        kind=kind,
        entity=f"ticket:{ticket.id}",
        occurred_at=hook.time,
        data=data,
    )


class ZendeskSatisfaction(VendorModel):
    """The satisfaction trigger's body (README: "Satisfaction ratings"), placeholders filled in."""

    id: Id
    ticket_id: Id
    requester_external_id: str | None = None
    rating: int = Field(ge=0, le=5)
    comment: str | None = None
    updated_at: Instant

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Any:
        """`good`/`bad` (Zendesk's CSAT) or a score of 0-5; `offered` and the like are no rating."""
        if isinstance(value, str) and not value.strip().isdigit():
            return RATINGS.get(value.strip().lower(), value)
        return value


def _satisfaction_event(source: str, hook: ZendeskSatisfaction) -> InboundEvent:
    data = {
        "ticket_id": hook.ticket_id,
        "satisfaction_score": hook.rating,
        "requester_external_id": hook.requester_external_id or None,
        "satisfaction_comment": hook.comment or None,
    }
    return InboundEvent(
        source=source,
        event_id=hook.id,
        kind="ticket.satisfaction_rated",
        entity=f"ticket:{hook.ticket_id}",
        occurred_at=hook.updated_at,
        data=data,
    )


FORMAT = PayloadFormat("application/json", TypeAdapter(ZendeskEvent), _helpdesk_event)
SATISFACTION_FORMAT = PayloadFormat("application/json", TypeAdapter(ZendeskSatisfaction), _satisfaction_event)
