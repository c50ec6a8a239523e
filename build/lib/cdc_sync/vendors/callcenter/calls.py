"""One call record from its lifecycle events, pure. The call center sends ringing, answered,
ended, recording-ready and QA-done events for a call (a transfer leg has its own `segment_seq`),
late, twice or out of order; `merge` folds them so that any order, with any duplicates, gives the
same record: statuses only move forward, the earliest start and connect and the latest end are
kept, a value any event knows is kept, QA tags accumulate. Durations are derived from the
timestamps (negative → 0) and checked against the vendor's talk time (10 % tolerance)."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

STATUSES = {
    "ringing": "RINGING",
    "answered": "ANSWERED",
    "missed": "MISSED",
    "abandoned": "ABANDONED",
    "failed": "FAILED",
}
RANK = {"RINGING": 0, "ANSWERED": 1, "MISSED": 2, "ABANDONED": 2, "FAILED": 2}  # ended states last
KIND_STATUS = {"call.ringing": "RINGING", "call.answered": "ANSWERED"}
DIRECTIONS = {"inbound": "IN", "outbound": "OUT"}
TOLERANCE = 0.10
SETTLED = (  # one value per call leg: any event that knows it says the same
    "direction",
    "vendor_talk_sec",
    "ext_agent_id",
    "queue_code",
    "result_code",
    "ext_campaign_id",
    "customer_id",
    "caller_raw",
    "callee_raw",
    "recording_url",
    "recording_duration_sec",
)


@dataclass(frozen=True)
class CallRecord:
    ext_call_id: str
    direction: str | None = None
    status: str = "RINGING"
    started_at: datetime | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    vendor_talk_sec: int | None = None
    ext_agent_id: str | None = None
    queue_code: str | None = None
    result_code: str | None = None
    ext_campaign_id: str | None = None
    customer_id: str | None = None
    caller_raw: str | None = None
    callee_raw: str | None = None
    recording_url: str | None = None
    recording_duration_sec: int | None = None
    qa_tags: tuple[str, ...] = ()
    last_event_at: datetime | None = None

    @property
    def talk_duration_sec(self) -> int | None:
        return _seconds(self.connected_at, self.ended_at)

    @property
    def ring_duration_sec(self) -> int | None:
        return _seconds(self.started_at, self.connected_at or self.ended_at)

    @property
    def duration_mismatch(self) -> bool:
        """The vendor's talk time is more than 10 % (and over a second) off its own timestamps."""
        derived, told = self.talk_duration_sec, self.vendor_talk_sec
        if derived is None or told is None:
            return False
        return abs(derived - told) > max(1.0, TOLERANCE * max(derived, told))


def ext_call_id(call_id: str, segment_seq: Any) -> str:
    """The CRM's key of a call leg: the provider's id, `#<segment>` for every leg after the first."""
    segment = int(segment_seq or 0)
    return call_id if segment == 0 else f"{call_id}#{segment}"


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def observed(kind: str, at: datetime, call: Mapping[str, Any]) -> CallRecord:
    """What one event says about its call, as a record of its own."""
    status = STATUSES.get(str(call.get("status") or "").lower()) or KIND_STATUS.get(kind, "RINGING")
    return CallRecord(
        ext_call_id=ext_call_id(str(call["call_id"]), call.get("segment_seq")),
        direction=DIRECTIONS.get(str(call.get("direction") or "").lower()),
        status=status,
        started_at=_instant(call.get("started_at")),
        connected_at=_instant(call.get("connected_at")),
        ended_at=_instant(call.get("ended_at")),
        vendor_talk_sec=_count(call.get("talk_duration_sec")),
        ext_agent_id=_text(call.get("agent_id")),
        queue_code=_text(call.get("queue_id")),
        result_code=_text(call.get("disposition_code")),
        ext_campaign_id=_text(call.get("campaign_id")),
        customer_id=_text(call.get("customer_id")),
        caller_raw=_text(call.get("from_number")),
        callee_raw=_text(call.get("to_number")),
        recording_url=_text(call.get("recording_url")),
        recording_duration_sec=_count(call.get("recording_duration_sec")),
        qa_tags=tuple(sorted({str(tag) for tag in call.get("qa_tags") or ()})),
        last_event_at=at,
    )


def merge(record: CallRecord | None, seen: CallRecord) -> CallRecord:
    """`record` with what one more event saw; commutative, associative and idempotent, so the
    record does not depend on the order events arrive in. Where two events disagree on a value
    (they should not, within one leg) the larger one is kept, whichever came first."""
    if record is None:
        return seen
    agreed = {name: _either(getattr(record, name), getattr(seen, name)) for name in SETTLED}
    return replace(
        record,
        **agreed,
        status=max(record.status, seen.status, key=lambda status: (RANK[status], status)),
        started_at=_earliest(record.started_at, seen.started_at),
        connected_at=_earliest(record.connected_at, seen.connected_at),
        ended_at=_latest(record.ended_at, seen.ended_at),
        qa_tags=tuple(sorted(set(record.qa_tags) | set(seen.qa_tags))),
        last_event_at=_latest(record.last_event_at, seen.last_event_at),
    )


def _either(a: Any, b: Any) -> Any:
    known = [value for value in (a, b) if value is not None]
    return max(known) if known else None


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _count(value: Any) -> int | None:
    return None if value is None else max(0, int(value))


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
