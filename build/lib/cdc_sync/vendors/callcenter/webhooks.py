"""Call-center webhooks (`/webhooks/callcenter`, JSON, Standard Webhooks signed):
`{"event_id", "type", "occurred_at", "call": {...}}` for a call's lifecycle and dial results.
A call's events are ordered by its leg (`call:<id>[#<segment>]`), a dial result by its task."""

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from cdc_sync.inbound.payloads import PayloadFormat, VendorModel
from cdc_sync.model.inbound import DEFERRABLE, NORMAL, URGENT, Id, InboundEvent, Instant
from cdc_sync.vendors.callcenter.calls import ext_call_id

SOURCE = "callcenter"  # the webhook source (`/webhooks/callcenter`) the call center's events come in by
CallKind = Literal["call.ringing", "call.answered", "call.ended", "call.recording_ready", "call.qa_completed"]
ResultCode = Literal[
    "CONNECTED",
    "NO_ANSWER",
    "BUSY",
    "POWER_OFF",
    "INVALID_NUMBER",
    "REJECTED",
    "BLACKLISTED",
    "NETWORK_ERROR",
]
Seconds = Annotated[
    int, Field(ge=-86_400, le=86_400)
]  # negative durations are the vendor's bug: clamped later


class Call(VendorModel):
    call_id: Id
    segment_seq: int = Field(default=0, ge=0, le=1000)
    direction: Literal["inbound", "outbound"] | None = None
    status: Literal["ringing", "answered", "missed", "abandoned", "failed"] | None = None
    from_number: str | None = Field(default=None, max_length=64)
    to_number: str | None = Field(default=None, max_length=64)
    started_at: Instant | None = None
    connected_at: Instant | None = None
    ended_at: Instant | None = None
    talk_duration_sec: Seconds | None = None
    agent_id: Id | None = None
    queue_id: Id | None = None
    disposition_code: Id | None = None
    customer_id: Id | None = None
    recording_ready: bool = False
    recording_url: str | None = Field(default=None, max_length=2048)
    recording_duration_sec: Seconds | None = None
    qa_tags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)
    campaign_id: Id | None = None


class CallEvent(VendorModel):
    event_id: Id
    type: CallKind
    occurred_at: Instant
    call: Call


class DialResult(VendorModel):
    batch_id: Id
    task_id: Id
    result_code: ResultCode
    attempt_count: int = Field(default=0, ge=0, le=1000)
    last_attempt_at: Instant | None = None
    call_id: Id | None = None


class DialEvent(VendorModel):
    event_id: Id
    type: Literal["dial.result"]
    occurred_at: Instant
    call: DialResult


Hook = Annotated[CallEvent | DialEvent, Field(discriminator="type")]
# Under congestion the call record (and its screen pop) goes first; recordings and QA tags wait.
PRIORITIES = {
    "call.ringing": URGENT,
    "call.answered": URGENT,
    "call.ended": URGENT,
    "call.recording_ready": DEFERRABLE,
    "call.qa_completed": DEFERRABLE,
}


def _event(source: str, hook: CallEvent | DialEvent) -> InboundEvent:
    data: dict[str, Any] = hook.call.model_dump(mode="json")
    if isinstance(hook, DialEvent):
        entity = f"dial_task:{hook.call.task_id}"
    else:
        entity = f"call:{ext_call_id(hook.call.call_id, hook.call.segment_seq)}"
    return InboundEvent(
        source=source,
        event_id=hook.event_id,
        kind=hook.type,
        entity=entity,
        occurred_at=hook.occurred_at,
        data=data,
        priority=PRIORITIES.get(hook.type, NORMAL),
    )


FORMAT = PayloadFormat("application/json", TypeAdapter[CallEvent | DialEvent](Hook), _event)
