"""Command-line value types shared by commands: points in time as ISO 8601 or "how long ago"."""

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from cdc_sync.model.times import parse_duration, parse_instant


class Instant(click.ParamType[datetime, Any]):
    """A point in time, timezone-aware (UTC unless the value says otherwise)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(str(value), datetime.now(UTC))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


INSTANT = Instant()


class Duration(click.ParamType[timedelta, Any]):
    """A length of time: `30s`, `5m`, `1h`, `7d`, `2w`."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
