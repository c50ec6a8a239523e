from datetime import UTC, datetime, timedelta, timezone

import click
import pytest

from cdc_sync.cli.params import INSTANT
from cdc_sync.model.times import parse_duration, parse_instant

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("90m", NOW - timedelta(minutes=90)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
        ("2026-11-23T10:00:00+02:00", datetime(2026, 11, 23, 10, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_instants_are_iso_8601_or_how_long_ago(value: str, expected: datetime) -> None:
    assert parse_instant(value, NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "24x", "2026-13-01", ""])
def test_anything_else_is_a_usage_error_naming_both_forms(value: str) -> None:
    with pytest.raises(click.BadParameter, match="ISO 8601"):
        INSTANT.convert(value, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("30s", timedelta(seconds=30)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
    ],
)
def test_durations_are_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0m", "5", "m", "five minutes", "-5m", "1.5h", ""])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
