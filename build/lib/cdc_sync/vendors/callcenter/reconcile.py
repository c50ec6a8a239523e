"""Calls in the CRM against the call center's own detail (`GET /v1/calls/{id}`), pure: what the
record would gain if the vendor's detail were merged into it (the same `merge` every webhook goes
through), and that detail as an event for the inbox, so a repair takes the writer's path."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cdc_sync.model.writes import Row
from cdc_sync.vendors.callcenter.calls import merge, observed
from cdc_sync.vendors.callcenter.handlers import columns, record_of

IGNORED = frozenset({"last_event_at"})  # when cdc-sync heard last, not what the call was
KIND_OF_STATUS = {"ringing": "call.ringing", "answered": "call.answered"}


def differences(row: Row, detail: Mapping[str, Any], now: datetime) -> dict[str, tuple[Any, Any]]:
    """Column → (CRM value, value after merging the vendor's detail), for the columns that change."""
    ours = record_of(row)
    seen = replace(observed(_kind(detail), now, detail), ext_call_id=ours.ext_call_id)
    before, after = columns(ours), columns(merge(ours, seen))
    changed = [name for name in after if name not in IGNORED and before[name] != after[name]]
    return {name: (before[name], after[name]) for name in changed}


def repair_event(detail: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The vendor's detail as one of its webhooks (its own id: a repair is applied once)."""
    return {
        "event_id": f"reconcile-{detail['call_id']}-{int(now.timestamp())}",
        "type": _kind(detail),
        "occurred_at": now.isoformat(),
        "call": dict(detail),
    }


def _kind(detail: Mapping[str, Any]) -> str:
    """A call the vendor has ended reads as `call.ended`; one still live as its status."""
    if detail.get("ended_at") is not None:
        return "call.ended"
    return KIND_OF_STATUS.get(str(detail.get("status") or "").lower(), "call.ended")


def compared(row: Row, detail: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """One call's verdict: `same`, `differs` (with the columns) or `missing` at the call center."""
    call = str(row["ext_call_id"])
    if detail is None:
        return {"call": call, "state": "missing", "differences": {}}
    changes = differences(row, detail, now)
    found = {name: {"crm": crm, "call_center": vendor} for name, (crm, vendor) in changes.items()}
    return {"call": call, "state": "differs" if found else "same", "differences": found}
