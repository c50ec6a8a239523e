"""Per field: an older vendor event never overwrites a newer one, whoever wrote last; a CRM change
after the vendor's event is a conflict; the rest goes in."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.rules.staleness import (
    CLOCK_ALLOWANCE,
    FieldWrite,
    Verdict,
    crm_changed_after,
    judge_field,
    older_than_applied,
)

T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_an_event_older_than_the_one_applied_is_stale() -> None:
    reason = older_than_applied(T, T + SECOND)
    assert reason is not None and T.isoformat() in reason and (T + SECOND).isoformat() in reason


@pytest.mark.parametrize("applied_at", [None, T, T - SECOND])
def test_a_first_same_time_or_newer_event_is_not_stale(applied_at: datetime | None) -> None:
    assert older_than_applied(T, applied_at) is None


@pytest.mark.parametrize(
    ("updated_at", "origin", "newer"),
    [
        (None, None, False),
        (T + CLOCK_ALLOWANCE, None, False),  # within the vendors' clock drift
        (T + CLOCK_ALLOWANCE + SECOND, None, True),  # the CRM itself, after the vendor
        (T + CLOCK_ALLOWANCE + SECOND, "erp", True),  # another system, after the vendor
        (T + timedelta(hours=1), "helpdesk", False),  # this vendor's own write: staleness decides
    ],
)
def test_a_crm_change_after_the_vendors_event(
    updated_at: datetime | None, origin: str | None, newer: bool
) -> None:
    assert (crm_changed_after(updated_at, origin, "helpdesk", T) is not None) == newer


@pytest.mark.parametrize(
    ("current", "value", "older", "not_owned", "crm_newer", "verdict"),
    [
        ("Open", "Resolved", None, None, None, "apply"),
        ("Resolved", "Resolved", None, None, None, "unchanged"),
        ("Resolved", "Pending", "older", None, None, "stale"),  # the retried older event of the issue
        ("Resolved", "Resolved", "older", None, None, "stale"),
        ("Resolved", "Pending", "older", "not owned", "crm newer", "stale"),  # stale beats everything
        ("Crm", "Vendor", None, "not owned", None, "conflict"),
        ("Crm", "Crm", None, "not owned", None, "ignored"),  # not its field, but nothing to change
        ("Pending", "Resolved", None, None, "crm newer", "conflict"),
    ],
)
def test_one_field_verdict(
    current: str,
    value: str,
    older: str | None,
    not_owned: str | None,
    crm_newer: str | None,
    verdict: Verdict,
) -> None:
    judged = judge_field(current, value, older=older, not_owned=not_owned, crm_newer=crm_newer)
    assert judged.verdict == verdict
    assert (judged.reason is None) == (verdict in ("apply", "unchanged"))


def test_only_what_went_in_or_already_agreed_records_the_events_time() -> None:
    verdicts: list[Verdict] = ["apply", "unchanged", "ignored", "stale", "conflict"]
    recorded = {verdict for verdict in verdicts if FieldWrite(verdict).records_version}
    assert recorded == {"apply", "unchanged"}


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=12))
def test_in_any_delivery_order_the_newest_event_ends_up_applied(times: list[int]) -> None:
    """A field written by events arriving in any order holds the newest event's value at the end."""
    value, applied_at = None, None
    for seconds in times:
        at = T + timedelta(seconds=seconds)
        judged = judge_field(
            value, seconds, older=older_than_applied(at, applied_at), not_owned=None, crm_newer=None
        )
        if judged.verdict == "apply":
            value = seconds
        if judged.records_version:
            applied_at = max(at, applied_at) if applied_at else at
    assert value == max(times)
