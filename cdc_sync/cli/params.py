"""Command-line value types shared by commands: points in time as ISO 8601 or "how long ago"."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_instant(value: str, now: datetime) -> datetime:
    """`2026-11-23T10:00:00Z`, `2026-11-23` (naive = UTC) or a duration before `now` (`90m`, `24h`, `7d`)."""
    text = value.strip()
    ago = _AGO.match(text)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is neither ISO 8601 (2026-11-23T10:00Z) nor a duration (24h)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
