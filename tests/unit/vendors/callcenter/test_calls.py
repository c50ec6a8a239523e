"""A call's lifecycle events merge into one record whatever their order and duplicates; durations
are derived from the timestamps, negative ones are 0, the vendor's talk time is checked."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.vendors.callcenter.calls import CallRecord, ext_call_id, merge, observed

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


BASE = {"call_id": "c-1", "direction": "inbound", "from_number": "+49 30 1234567", "to_number": "+4930999"}
EVENTS: list[tuple[str, int, dict[str, Any]]] = [
    ("call.ringing", 0, {"status": "ringing", "started_at": at(0).isoformat(), "agent_id": "a-7"}),
    (
        "call.answered",
        5,
        {"status": "answered", "started_at": at(0).isoformat(), "connected_at": at(5).isoformat()},
    ),
    (
        "call.ended",
        65,
        {
            "status": "answered",
            "connected_at": at(5).isoformat(),
            "ended_at": at(65).isoformat(),
            "talk_duration_sec": 60,
        },
    ),
    (
        "call.recording_ready",
        70,
        {"recording_url": "https://media.callcenter.example/r/1", "recording_duration_sec": 58},
    ),
    ("call.qa_completed", 900, {"qa_tags": ["polite", "upsell"]}),
    ("call.qa_completed", 901, {"qa_tags": ["polite", "follow_up"]}),
]


def seen(index: int) -> CallRecord:
    kind, offset, fields = EVENTS[index]
    return observed(kind, at(offset), {**BASE, **fields})


def fold(order: list[int]) -> CallRecord:
    record = None
    for index in order:
        record = merge(record, seen(index))
    assert record is not None
    return record


def test_the_events_in_order_make_the_whole_call() -> None:
    call = fold(list(range(len(EVENTS))))
    assert (call.ext_call_id, call.direction, call.status) == ("c-1", "IN", "ANSWERED")
    assert (call.talk_duration_sec, call.ring_duration_sec, call.duration_mismatch) == (60, 5, False)
    assert call.qa_tags == ("follow_up", "polite", "upsell")
    assert call.recording_url == "https://media.callcenter.example/r/1"
    assert call.ext_agent_id == "a-7"


@given(st.lists(st.integers(0, len(EVENTS) - 1), min_size=len(EVENTS), max_size=3 * len(EVENTS)))
def test_any_order_with_any_duplicates_gives_the_same_record(order: list[int]) -> None:
    every = sorted(set(range(len(EVENTS))))
    order = order + [i for i in every if i not in order]  # each event at least once
    assert fold(order) == fold(every)


def test_an_ended_before_answered_and_a_late_ringing_never_move_the_status_back() -> None:
    assert fold([2, 1, 0]).status == "ANSWERED"
    missed = observed("call.ended", at(30), {**BASE, "status": "missed", "ended_at": at(30).isoformat()})
    assert merge(merge(None, missed), seen(0)).status == "MISSED"


def test_negative_durations_are_zero_and_a_talk_time_off_by_over_ten_percent_is_flagged() -> None:
    backwards = {
        "connected_at": at(50).isoformat(),
        "ended_at": at(40).isoformat(),
        "started_at": at(60).isoformat(),
    }
    call = observed("call.ended", at(70), {**BASE, **backwards, "talk_duration_sec": 0})
    assert (call.talk_duration_sec, call.ring_duration_sec) == (0, 0)
    told = {"connected_at": at(0).isoformat(), "ended_at": at(100).isoformat()}
    assert (
        observed("call.ended", at(100), {**BASE, **told, "talk_duration_sec": 109}).duration_mismatch is False
    )
    assert (
        observed("call.ended", at(100), {**BASE, **told, "talk_duration_sec": 120}).duration_mismatch is True
    )


def test_a_transfer_leg_is_a_call_of_its_own() -> None:
    assert (ext_call_id("c-1", 0), ext_call_id("c-1", 2)) == ("c-1", "c-1#2")
