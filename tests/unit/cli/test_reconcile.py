"""`cdc-sync reconcile` output for people: ids and field names, never personal values; and when
a bulk fix is asked for, confirmed, or refused."""

import io

import pytest

from cdc_sync.cli.reconcile import Confirm, Progress, differences_left, report_lines
from cdc_sync.repair.reconcile import (
    FieldDifference,
    FixSummary,
    RecordComparison,
    not_reconcilable,
    summarize,
)

DIFFERENCES = [
    RecordComparison(
        key="abc",
        result="differing",
        contacts=(42,),
        fields=(FieldDifference(field="merge_fields.PHONE", crm="+4930123456", vendor="+4930999999"),),
    ),
    RecordComparison(
        key="def",
        result="missing",
        contacts=(7,),
        fields=(FieldDifference(field="email", crm="ada@example.com", vendor=None),),
    ),
    RecordComparison(key="ghi", result="extra", label="member ghi (e***@example.com)"),
    RecordComparison(key="ok", result="match", contacts=(1,)),
]
REPORT = summarize("marketing", "mailchimp", DIFFERENCES, not_expected=3)


def test_text_names_entities_and_fields_but_no_values() -> None:
    text = "\n".join(report_lines(REPORT))
    assert "compared 4 · match 1 · missing 1 · extra 1 · differing 1 · difference rate 75.000%" in text
    assert "differing  contact:42: merge_fields.PHONE" in text
    assert "missing    contact:7" in text
    assert "extra      member ghi (e***@example.com): not a CRM contact" in text
    assert "reported, not deleted" in text and "3 CRM contacts never sent" in text
    assert not any(value in text for value in ("+4930123456", "+4930999999", "ada@example.com"))


def test_fix_outcome_and_webhooks_are_reported() -> None:
    fix = FixSummary(confirmed=True, records=2, fixed=1, failed=1, remaining=2, difference_rate_after=0.5)
    lines = report_lines(REPORT.model_copy(update={"fix": fix}))
    assert "  fix: pushed 2 records · 1 match now · 1 dead-lettered · 0 held (destination paused) · " in (
        "\n".join(lines)
    )
    assert "2 differences left, difference rate after fix 50.000%" in lines[-2]
    assert report_lines(not_reconcilable("hooks", "webhook")) == [
        "hooks (webhook): not reconcilable (write-only webhook)"
    ]


def test_differences_left_count_what_a_fix_did_not_settle() -> None:
    assert differences_left(REPORT) == 3
    settled = REPORT.model_copy(update={"fix": FixSummary(confirmed=True, records=2, fixed=2, remaining=0)})
    assert differences_left(settled) == 0


def test_a_bulk_fix_is_refused_without_yes_or_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())
    confirm = Confirm(yes=False, progress=Progress())
    assert confirm(REPORT, 2) is False
    assert confirm.refused == ["marketing (2 records)"]
    assert Confirm(yes=True, progress=Progress())(REPORT, 2) is True
