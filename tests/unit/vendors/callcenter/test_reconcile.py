"""Calls against the call center's detail: what a lost webhook left out, and the repair as the
vendor's own event (so the writer merges it like any other)."""

from datetime import UTC, datetime
from typing import Any

import orjson

from cdc_sync.inbound.sources import parse
from cdc_sync.vendors.callcenter.calls import observed
from cdc_sync.vendors.callcenter.handlers import columns
from cdc_sync.vendors.callcenter.reconcile import compared, repair_event

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RINGING = {
    "call_id": "c-1",
    "direction": "inbound",
    "status": "ringing",
    "started_at": "2026-12-03T11:00:00+00:00",
}
DETAIL = {
    **RINGING,
    "status": "answered",
    "connected_at": "2026-12-03T11:00:04+00:00",
    "ended_at": "2026-12-03T11:01:04+00:00",
    "talk_duration_sec": 60,
    "qa_tags": ["polite"],
}


def crm_row(call: dict[str, Any]) -> dict[str, Any]:
    """The calls row a webhook with `call` left, as the CRM holds it."""
    return columns(observed("call.ringing", NOW, call))


def test_what_a_lost_webhook_left_out_is_listed_column_by_column() -> None:
    verdict = compared(crm_row(RINGING), DETAIL, NOW)
    assert verdict["state"] == "differs"
    assert {"status", "connected_at", "ended_at", "talk_duration_sec", "qa_tags"} <= set(
        verdict["differences"]
    )
    assert verdict["differences"]["status"] == {"crm": "RINGING", "call_center": "ANSWERED"}


def test_a_call_the_crm_has_whole_is_the_same_and_one_the_vendor_lacks_is_missing() -> None:
    assert compared(crm_row(DETAIL), DETAIL, NOW) == {"call": "c-1", "state": "same", "differences": {}}
    assert compared(crm_row(RINGING), None, NOW)["state"] == "missing"


def test_the_repair_is_a_webhook_the_call_centers_format_accepts() -> None:
    event = parse("callcenter", "application/json", orjson.dumps(repair_event(DETAIL, NOW)))
    assert (event.kind, event.entity, event.event_id) == (
        "call.ended",
        "call:c-1",
        f"reconcile-c-1-{int(NOW.timestamp())}",
    )
    live = parse("callcenter", "application/json", orjson.dumps(repair_event(RINGING, NOW)))
    assert live.kind == "call.ringing"
