"""What call events do to the CRM: every event of a call leg is merged into its one `calls` row
(any order, any duplicates, the same row); the first one matches the caller to a contact (or
creates a lead), links the open opportunity, puts the call on the contact's timeline and, for a
live incoming call, announces the screen pop. An agent with no CRM user goes to the mapping
queue (`call_agents` without a user); a recording link is kept only if it passes the recording
policy."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cdc_sync.inbound.writes import (
    Applied,
    WriteScope,
    add_activity,
    add_notice,
    add_task,
    create,
    guarded_update,
    outcome,
)
from cdc_sync.mapping.normalize import normalize_phone
from cdc_sync.model.writes import Row
from cdc_sync.rules.opportunities import open_opportunity_in
from cdc_sync.vendors.callcenter.calls import CallRecord, merge, observed
from cdc_sync.vendors.callcenter.dials import dial_result
from cdc_sync.vendors.callcenter.matching import Candidate, Match, match_contact
from cdc_sync.vendors.callcenter.options import media_hosts
from cdc_sync.vendors.callcenter.recordings import RecordingRefused, check_recording_url
from cdc_sync.vendors.callcenter.screen_pop import CHANNEL, pops, screen_pop

Handler = Callable[[WriteScope], Applied]


def e164(raw: str | None, region: str | None = None) -> str | None:
    phone = normalize_phone(raw, region)
    return phone.value if phone.formatted else None


# CallRecord field → its `calls` column: a stored call reads back as the record it was written from.
STORED = {
    "ext_call_id": "ext_call_id",
    "direction": "direction",
    "status": "status",
    "started_at": "started_at",
    "connected_at": "connected_at",
    "ended_at": "ended_at",
    "vendor_talk_sec": "vendor_talk_duration_sec",
    "ext_agent_id": "ext_agent_id",
    "queue_code": "queue_code",
    "result_code": "result_code",
    "ext_campaign_id": "ext_campaign_id",
    "customer_id": "ext_customer_id",
    "caller_raw": "caller_phone_raw",
    "callee_raw": "callee_phone_raw",
    "recording_duration_sec": "recording_duration_sec",
    "qa_tags": "qa_tags",
    "last_event_at": "last_event_at",
}


def record_of(row: Row) -> CallRecord:
    """The stored call as a record to merge the next event into."""
    stored: dict[str, Any] = {field: row.get(column) for field, column in STORED.items()}
    stored |= {
        "status": stored["status"] or "RINGING",
        "qa_tags": tuple(stored["qa_tags"] or ()),
        "recording_url": row.get("recording_signed_url"),
    }
    return CallRecord(**stored)


def columns(record: CallRecord) -> dict[str, Any]:
    """The record as `calls` columns, with what is derived from it (the recording link and the
    links to the CRM apart)."""
    return {
        **{column: getattr(record, field) for field, column in STORED.items()},
        "qa_tags": list(record.qa_tags),
        "caller_phone_e164": e164(record.caller_raw),
        "callee_phone_e164": e164(record.callee_raw),
        "talk_duration_sec": record.talk_duration_sec,
        "ring_duration_sec": record.ring_duration_sec,
        "duration_mismatch": record.duration_mismatch,
    }


def call_event(scope: WriteScope) -> Applied:
    event = scope.event
    seen = observed(event.kind, event.occurred_at, event.data)
    row = scope.reads.row("calls", "ext_call_id", seen.ext_call_id)
    record = seen if row is None else merge(record_of(row), seen)
    call_id = scope.reads.new_id("calls") if row is None else int(row["id"])
    values = {
        **columns(record),
        **_recording(scope, record, call_id),
        "agent_id": _agent(scope, record.ext_agent_id),
    }
    if row is not None:
        # The merge is already order-free: an older event still adds what it knows.
        guarded = guarded_update(scope, "calls", row, values, check_stale=False)
        return outcome(guarded, f"call {record.ext_call_id}: {record.status}")
    return _first_event(scope, record, values, call_id)


def _first_event(scope: WriteScope, record: CallRecord, values: dict[str, Any], call_id: int) -> Applied:
    match, contacts = _match(scope, record, values["agent_id"])
    contact_id = match.contact_id if match.contact_id is not None else _lead(scope, record)
    opportunity = _opportunity(scope, contact_id)
    links = {"contact_id": contact_id, "opportunity_id": opportunity, "ambiguous_match": match.ambiguous}
    create(scope, "calls", {"id": call_id, **values, **links})
    details = {"call": record.ext_call_id, "direction": record.direction, "match": match.reason}
    add_activity(scope, "call", contact_id, details)
    if pops(record):
        pop = screen_pop(record, call_id, contact_id, contacts.get(contact_id), match, opportunity)
        add_notice(scope, CHANNEL, pop)
    if match.ambiguous:
        title = f"Call {record.ext_call_id} matched one of several contacts: check the match"
        add_task(scope, "manual_review", "sales", title, f"call:{call_id}", contact_id)
    return Applied(
        "done", f"call {record.ext_call_id}: {record.status}, contact {contact_id} ({match.reason})"
    )


def customer_number(record: CallRecord) -> str | None:
    return record.callee_raw if record.direction == "OUT" else record.caller_raw


def _match(scope: WriteScope, record: CallRecord, agent_user_id: int | None) -> tuple[Match, dict[int, Row]]:
    """The match, and the contact rows it was decided on by id (the screen pop shows the one)."""
    if record.customer_id and record.customer_id.isdigit():
        named = scope.reads.row("contacts", "id", int(record.customer_id))
        if named is not None:  # the call center's own word: no number lookup needed
            return match_contact(int(named["id"]), None, [], agent_user_id), {int(named["id"]): named}
    number = e164(customer_number(record))
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    rows = scope.reads.contacts_by_phone_tail(digits) if digits else []
    match = match_contact(None, number, [_candidate(row) for row in rows], agent_user_id)
    return match, {int(row["id"]): row for row in rows}


def _candidate(row: Row) -> Candidate:
    last: datetime = row["updated_at"]
    return Candidate(int(row["id"]), e164(row.get("phone"), row.get("country")), row.get("owner_id"), last)


def _lead(scope: WriteScope, record: CallRecord) -> int:
    contact_id = scope.reads.new_id("contacts")
    create(scope, "contacts", {"id": contact_id, "phone": customer_number(record), "lifecycle_stage": "lead"})
    add_task(
        scope,
        "manual_review",
        "sales",
        f"New lead from call {record.ext_call_id}",
        f"contact:{contact_id}",
        contact_id,
    )
    return contact_id


def _opportunity(scope: WriteScope, contact_id: int) -> int | None:
    return open_opportunity_in(scope.reads.rows("opportunities", "contact_id", contact_id))


def _agent(scope: WriteScope, ext_agent_id: str | None) -> int | None:
    """The agent's CRM user; an agent nobody mapped yet joins the mapping queue."""
    if ext_agent_id is None:
        return None
    agent = scope.reads.row("call_agents", "ext_agent_id", ext_agent_id)
    if agent is None:
        create(scope, "call_agents", {"ext_agent_id": ext_agent_id, "user_id": None})
        return None
    return None if agent["user_id"] is None else int(agent["user_id"])


def _recording(scope: WriteScope, record: CallRecord, call_id: int) -> dict[str, Any]:
    if record.recording_url is None:
        return {}
    try:
        check_recording_url(record.recording_url, media_hosts())
    except RecordingRefused as refused:
        title = f"Recording link of call {record.ext_call_id} refused: {refused}"
        add_task(scope, "manual_review", "integration", title[:300], f"recording:{call_id}")
        return {"has_recording": True, "recording_signed_url": None}
    return {"has_recording": True, "recording_signed_url": record.recording_url}


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(
        ("call.ringing", "call.answered", "call.ended", "call.recording_ready", "call.qa_completed"),
        call_event,
    ),
    "dial.result": dial_result,
}
