"""The report's shaping: buckets, error classes, pauses, series and the per-destination summary."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from cdc_sync.report.latency import (
    MAX_BUCKETS,
    Quantiles,
    bin_start,
    bucket_grid,
    bucket_width,
    build_report,
    error_class,
    pause_intervals,
    summary_data,
    summary_line,
)
from cdc_sync.store.report_queries import (
    DeadLetterCount,
    LatencyRow,
    LedgerRows,
    LedgerWindow,
    OutcomeCount,
    PauseEvent,
)

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("span", "requested", "expected"),
    [
        (timedelta(hours=1), FIVE, FIVE),
        (timedelta(hours=16), FIVE, FIVE),  # 192 buckets: fits
        (timedelta(hours=24), FIVE, timedelta(minutes=10)),
        (timedelta(days=30), FIVE, timedelta(hours=6)),
        (timedelta(hours=24), timedelta(hours=2), timedelta(hours=2)),  # wider than needed: kept
        (timedelta(days=1825), FIVE, timedelta(days=14)),  # beyond the nice widths: whole weeks
    ],
)
def test_buckets_widen_to_a_nice_width_so_a_window_has_at_most_200(
    span: timedelta, requested: timedelta, expected: timedelta
) -> None:
    width = bucket_width(START, START + span, requested)
    assert width == expected
    assert len(bucket_grid(LedgerWindow(START, START + span, width))) <= MAX_BUCKETS + 1


def test_buckets_start_where_date_bin_starts_them() -> None:
    assert bin_start(at(7.5), FIVE) == at(5)
    assert bin_start(at(10), FIVE) == at(10)
    assert bin_start(at(7.5), timedelta(days=1)) == datetime(2026, 11, 23, tzinfo=UTC)


def test_the_grid_covers_the_window_from_the_bucket_holding_its_start() -> None:
    grid = bucket_grid(LedgerWindow(at(2), at(31), FIVE))
    assert grid == [at(m) for m in (0, 5, 10, 15, 20, 25, 30)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, "timeout"), (201, "timeout"), (400, "4xx"), (429, "4xx"), (503, "5xx"), (302, "other")],
)
def test_failed_attempts_are_classed_by_their_response(status: int | None, expected: str) -> None:
    assert error_class(status) == expected


def pause(minutes: float, destination: str = "marketing", cause: str = "escalation") -> PauseEvent:
    return PauseEvent(at(minutes), destination, "pause", cause)


def resume(minutes: float, destination: str = "marketing") -> PauseEvent:
    return PauseEvent(at(minutes), destination, "resume", "operator")


def test_a_pause_lasts_until_the_next_resume() -> None:
    (interval,) = pause_intervals([resume(40), pause(10)], at(0), at(60))
    assert (interval.start, interval.end, interval.cause, interval.ongoing) == (
        at(10),
        at(40),
        "escalation",
        False,
    )
    assert interval.duration == timedelta(minutes=30)


def test_a_pause_from_before_the_window_starts_with_it() -> None:
    (interval,) = pause_intervals([pause(-90), resume(20)], at(0), at(60))
    assert (interval.start, interval.end) == (at(0), at(20))


def test_a_pause_without_a_resume_is_still_on_at_the_end() -> None:
    (interval,) = pause_intervals([pause(50)], at(0), at(60))
    assert (interval.start, interval.end, interval.ongoing) == (at(50), at(60), True)


def test_resuming_an_active_destination_is_no_pause() -> None:
    assert pause_intervals([resume(5), resume(15), pause(-30), resume(-20)], at(0), at(60)) == []


def test_an_escalation_and_its_state_row_are_one_pause() -> None:
    events = [pause(10), pause(10.01, cause="paused state"), resume(12)]
    (interval,) = pause_intervals(events, at(0), at(60))
    assert (interval.start, interval.cause) == (at(10), "escalation")


def test_pauses_of_destinations_are_separate() -> None:
    events = [pause(10), pause(20, "helpdesk"), resume(30), resume(40, "helpdesk")]
    assert [(p.destination, p.start) for p in pause_intervals(events, at(0), at(60))] == [
        ("marketing", at(10)),
        ("helpdesk", at(20)),
    ]


def outcome(minutes: float, outcome: str, status: int | None, attempts: int) -> OutcomeCount:
    return OutcomeCount(at(minutes), "marketing", outcome, status, attempts)


ROWS = LedgerRows(
    latency=[
        LatencyRow(at(5), "marketing", (4.0, 40.0, 90.0), (900.0, 2000.0, 3000.0)),
        LatencyRow(at(15), "marketing", (5.0, 50.0, 95.0), None),
        LatencyRow(None, "marketing", (4.5, 45.0, 94.0), (950.0, 2100.0, 3100.0)),
    ],
    outcomes=[
        outcome(5, "ok", 200, 90),
        outcome(5, "retry", None, 5),
        outcome(15, "retry_after", 429, 3),
        outcome(15, "retry", 503, 2),
        outcome(15, "retry", 201, 1),
        outcome(15, "dead_letter", 400, 1),
    ],
    dead_letters=[DeadLetterCount(at(15), "marketing", 1), DeadLetterCount(at(0), "(unrouted)", 2)],
    open_dead_letters={"marketing": 4, "helpdesk": 1},
    pause_events=[pause(20), resume(24)],
)
WINDOW = LedgerWindow(at(0), at(30), FIVE)


def test_series_put_each_bucket_in_its_place_and_leave_gaps_where_nothing_was_sent() -> None:
    report = build_report(ROWS, WINDOW, FIVE, at(31))
    series = {s.destination: s for s in report.series}["marketing"]
    assert report.buckets == [at(m) for m in (0, 5, 10, 15, 20, 25)]
    assert series.request_ms == [None, Quantiles(4, 40, 90), None, Quantiles(5, 50, 95), None, None]
    assert series.end_to_end_ms == [None, Quantiles(900, 2000, 3000), None, None, None, None]
    assert series.errors == {
        "4xx": [0, 0, 0, 4, 0, 0],
        "5xx": [0, 0, 0, 2, 0, 0],
        "timeout": [0, 5, 0, 1, 0, 0],
        "other": [0] * 6,
    }
    assert series.outcomes == {
        "retry": [0, 5, 0, 3, 0, 0],
        "retry_after": [0, 0, 0, 3, 0, 0],
        "dead_letter": [0, 0, 0, 1, 0, 0],
    }
    assert series.dead_letters == [0, 0, 0, 1, 0, 0]


def test_the_summary_counts_the_whole_window_per_destination() -> None:
    report = build_report(ROWS, WINDOW, FIVE, at(31))
    summaries = {s.destination: s for s in report.summaries}
    assert list(summaries) == ["(unrouted)", "helpdesk", "marketing"]
    marketing = summaries["marketing"]
    assert (marketing.attempts, marketing.acknowledged, marketing.retries) == (102, 90, 11)
    assert marketing.success_rate == pytest.approx(90 / 102)
    assert marketing.request_ms == Quantiles(4.5, 45, 94)
    assert marketing.end_to_end_ms == Quantiles(950, 2100, 3100)
    assert (marketing.dead_letters, marketing.open_dead_letters) == (1, 4)
    assert (marketing.pauses, marketing.paused) == (1, timedelta(minutes=4))
    helpdesk = summaries["helpdesk"]
    assert (helpdesk.attempts, helpdesk.success_rate, helpdesk.request_ms, helpdesk.open_dead_letters) == (
        0,
        None,
        None,
        1,
    )
    assert report.attempts == 102 and not report.empty


def test_the_summary_line_and_json_carry_the_numbers() -> None:
    report = build_report(ROWS, WINDOW, FIVE, at(31))
    assert summary_line(report) == (
        "2026-11-23 12:00 to 2026-11-23 12:30 UTC: 102 attempts to 3 destinations, 88.2% ok, "
        "11 retries, 3 dead letters (5 open now), 1 pauses"
    )
    data = json.loads(json.dumps(summary_data(report)))
    marketing = next(d for d in data["destinations"] if d["destination"] == "marketing")
    assert marketing["request_ms"] == {"p50": 4.5, "p95": 45.0, "p99": 94.0}
    assert marketing["paused_s"] == 240
    assert data["pauses"][0]["start"] == "2026-11-23T12:20:00+00:00"
    assert data["window"]["bucket_s"] == 300


def test_a_window_without_deliveries_says_so() -> None:
    empty = LedgerRows([], [], [], {}, [])
    report = build_report(empty, WINDOW, FIVE, at(31))
    assert report.empty
    assert summary_line(report) == "no deliveries between 2026-11-23 12:00 and 2026-11-23 12:30 UTC"
