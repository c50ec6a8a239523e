"""Points in time as people write them: ISO 8601, or how long ago (`90m`, `24h`, `7d`)."""

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1h`, `7d`, `2w`: a positive whole number of one unit."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 5m, 1h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_instant(value: str, now: datetime) -> datetime:
    """`2026-11-23T10:00:00Z`, `2026-11-23` (naive = UTC) or a duration before `now` (`90m`, `24h`, `7d`)."""
    text = value.strip()
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is neither ISO 8601 (2026-11-23T10:00Z) nor a duration (24h)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
