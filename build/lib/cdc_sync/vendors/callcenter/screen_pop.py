"""The screen pop: when an incoming call first reaches cdc-sync while it still rings or is being
answered, the agents' browsers following `GET /events/calls` get who is calling — the matched
contact (or the new lead), the open opportunity, the agent. Pure."""

from typing import Any

from cdc_sync.model.writes import Row
from cdc_sync.vendors.callcenter.calls import CallRecord
from cdc_sync.vendors.callcenter.matching import Match

CHANNEL = "calls"
LIVE = frozenset({"RINGING", "ANSWERED"})  # a call already over pops nothing


def pops(record: CallRecord) -> bool:
    return record.direction == "IN" and record.status in LIVE


def screen_pop(
    record: CallRecord,
    call_id: int,
    contact_id: int,
    contact: Row | None,
    match: Match,
    opportunity: int | None,
) -> dict[str, Any]:
    return {
        "call": record.ext_call_id,
        "call_id": call_id,
        "status": record.status,
        "caller": record.caller_raw,
        "agent": record.ext_agent_id,
        "queue": record.queue_code,
        "contact": {"id": contact_id, "name": _name(contact), "new_lead": match.create_lead},
        "ambiguous": match.ambiguous,
        "opportunity_id": opportunity,
        "started_at": record.started_at,
    }


def _name(contact: Row | None) -> str | None:
    if contact is None:
        return None
    parts = [contact.get("first_name"), contact.get("last_name")]
    return " ".join(str(part) for part in parts if part) or None
