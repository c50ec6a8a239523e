"""Vendor webhook bodies → one `InboundEvent`. Pure: bytes in, an event or `BadPayload` out.

Each source has a media type, a pydantic model of its vendor's payload (unknown fields ignored) and a
function from that model to the event. Vendor values stay raw: mapping them to CRM enums is the
writer's job, so a new vendor value never costs us a webhook.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from cdc_sync.errors import ConfigError, RejectedEvent
from cdc_sync.model.inbound import MAX_REASON, Id, InboundEvent, Instant, readable, utc

MediaType = Literal["application/json", "application/x-www-form-urlencoded"]
PayloadProblem = Literal["media_type", "syntax", "model"]
"""Which layer refused a body: its declared type, its encoding (JSON / form), or its vendor model."""

_MAX_FORM_FIELDS = 1000


class BadPayload(RejectedEvent):
    """A body that can never become an event, with the layer that refused it."""

    def __init__(self, problem: PayloadProblem, reason: str) -> None:
        super().__init__(reason)
        self.problem: PayloadProblem = problem


def _plain(amount: Decimal) -> str:
    return f"{amount:f}"  # "100000", never "1E+5"


NaiveUtc = Annotated[datetime, AfterValidator(utc)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
# The CRM stores money as numeric(14, 2).
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), PlainSerializer(_plain)]
Ratio = Annotated[Decimal, Field(ge=0, le=1), PlainSerializer(_plain)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Vendor(BaseModel):
    # Vendors add fields freely and send ids as numbers or strings.
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


# --- helpdesk: Zendesk event webhooks ---------------------------------------------------------
ZENDESK_TYPE_PREFIX = "zen:event-type:"
ZendeskType = Literal[
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.priority_changed",
    "zen:event-type:ticket.satisfaction_rated",
]
# Which data field keeps `event.previous` for a change event.
PREVIOUS_FIELDS = {"ticket.status_changed": "previous_status", "ticket.priority_changed": "previous_priority"}


class ZendeskVia(_Vendor):
    channel: str | None = None


class ZendeskTicket(_Vendor):
    id: Id
    status: str
    priority: str | None = None
    via: ZendeskVia = ZendeskVia()
    requester_external_id: str | None = None
    satisfaction_score: int | None = Field(default=None, ge=0, le=5)
    subject: str | None = None


class ZendeskChange(_Vendor):
    previous: JsonValue = None
    current: JsonValue = None


class ZendeskEvent(_Vendor):
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


# --- erp: collections and refunds ---------------------------------------------------------------
class _ErpMoneyEvent(_Vendor):
    event_id: Id
    order_no: Id
    contract_no: Id
    amount: Money
    currency: Currency
    occurred_at: Instant


class ErpCollection(_ErpMoneyEvent):
    type: Literal["collection.recorded"]
    collected_ratio: Ratio


class ErpRefund(_ErpMoneyEvent):
    type: Literal["refund.recorded"]
    reason: str | None = None


ErpEvent = Annotated[ErpCollection | ErpRefund, Field(discriminator="type")]


def _erp_event(source: str, hook: ErpCollection | ErpRefund) -> InboundEvent:
    data = hook.model_dump(exclude={"type", "event_id", "occurred_at"})
    return InboundEvent(
        source=source,
        event_id=hook.event_id,
        kind=hook.type,
        entity=f"order:{hook.order_no}",
        occurred_at=hook.occurred_at,
        data=data,
    )


# --- marketing: signed engagement events ----------------------------------------------------------
class EmailEngagement(_Vendor):
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
        entity=f"email:{hook.email.lower()}",
        occurred_at=hook.occurred_at,
        data={"email": hook.email, "campaign_id": hook.campaign_id, "url": hook.url},
    )


# --- marketing-lists: Mailchimp list webhooks (form-encoded, no event id) ---------------------------
class MailchimpListData(_Vendor):
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
        return (self.email or self.old_email or "").lower()


class MailchimpListEvent(_Vendor):
    type: Literal["subscribe", "unsubscribe", "profile", "upemail", "cleaned"]
    fired_at: NaiveUtc
    data: MailchimpListData


def _list_event_id(hook: MailchimpListEvent) -> str:
    # Mailchimp sends no id; these fields are the same on every redelivery of one event.
    parts = (hook.type, hook.fired_at.isoformat(), hook.data.address, hook.data.list_id)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _list_event(source: str, hook: MailchimpListEvent) -> InboundEvent:
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


# --- decoding and the source table --------------------------------------------------------------
_BRACKETED_KEY = re.compile(r"[^\[\]]*(?:\[[^\[\]]*\])*")


def _key_path(key: str) -> list[str]:
    """`data[merges][FNAME]` → ["data", "merges", "FNAME"]; a key that is not bracketed stays whole."""
    if not _BRACKETED_KEY.fullmatch(key):
        return [key]
    return key.replace("]", "").split("[")


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in pairs:
        *parents, leaf = _key_path(key)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BadPayload("syntax", f"form field {key[:80]!r} is both a value and a group")
        if isinstance(node.get(leaf), dict):
            raise BadPayload("syntax", f"form field {key[:80]!r} is both a value and a group")
        node[leaf] = value
    return tree


def _form_document(body: bytes) -> object:
    try:
        text = body.decode()
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise BadPayload("syntax", f"body is not UTF-8 url-encoded form data: {exc}"[:MAX_REASON]) from None
    return _nested(pairs)


def _json_document(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadPayload("syntax", f"body is not JSON: {exc}"[:MAX_REASON]) from None


DECODERS: dict[MediaType, Callable[[bytes], object]] = {
    "application/json": _json_document,
    "application/x-www-form-urlencoded": _form_document,
}


Hook = TypeVar("Hook")


@dataclass(frozen=True)
class PayloadFormat(Generic[Hook]):
    media_type: MediaType
    model: TypeAdapter[Hook]
    to_event: Callable[[str, Hook], InboundEvent]

    def parse(self, source: str, body: bytes) -> InboundEvent:
        document = DECODERS[self.media_type](body)
        try:
            return self.to_event(source, self.model.validate_python(document))
        except ValidationError as exc:
            raise BadPayload("model", readable(exc)) from None


FORMATS: dict[str, PayloadFormat[Any]] = {
    "helpdesk": PayloadFormat("application/json", TypeAdapter(ZendeskEvent), _helpdesk_event),
    "erp": PayloadFormat("application/json", TypeAdapter[ErpCollection | ErpRefund](ErpEvent), _erp_event),
    "marketing": PayloadFormat("application/json", TypeAdapter(EmailEngagement), _engagement_event),
    "marketing-lists": PayloadFormat(
        "application/x-www-form-urlencoded", TypeAdapter(MailchimpListEvent), _list_event
    ),
}


def payload_format(source: str) -> PayloadFormat[Any]:
    try:
        return FORMATS[source]
    except KeyError:
        raise ConfigError(f"no payload format for webhook source {source!r}") from None


def media_type_of(content_type: str) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return content_type.partition(";")[0].strip().lower()


def check_media_type(source: str, content_type: str) -> None:
    expected = payload_format(source).media_type
    if media_type_of(content_type) != expected:
        raise BadPayload("media_type", f"{source} takes {expected}, not {content_type[:80]!r}")


def parse(source: str, content_type: str, body: bytes) -> InboundEvent:
    """The event in a webhook body; BadPayload says why there is none."""
    check_media_type(source, content_type)
    return payload_format(source).parse(source, body)
