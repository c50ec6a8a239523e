"""Whether a vendor's write of one CRM field goes in: pure, one decision per field.

Two clocks are compared, for different questions:
- the vendor's event time against the event time last applied to the same field (whoever applied
  it): an older event never overwrites a newer one, a retried or reordered delivery included.
  Such an event is *stale*: recorded, not applied, not for review (the CRM already has newer).
- the CRM row's `updated_at` against the vendor's event time: the CRM (not a vendor) changed the
  row after the vendor acted, so the vendor's value may be out of date: a *conflict* for review.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# Vendors stamp events to the second and their clocks drift: a CRM change within this much of the
# vendor's event is not taken as newer than it.
CLOCK_ALLOWANCE = timedelta(seconds=2)

Verdict = Literal["apply", "unchanged", "ignored", "stale", "conflict"]


@dataclass(frozen=True)
class FieldWrite:
    """What becomes of one field of a vendor's write, and why (None when it goes in)."""

    verdict: Verdict
    reason: str | None = None

    @property
    def records_version(self) -> bool:
        """Whether the event's time becomes the field's applied time (it wrote, or already agreed)."""
        return self.verdict in ("apply", "unchanged")


def older_than_applied(event_at: datetime, applied_at: datetime | None) -> str | None:
    """The event is older than the one last applied to the field."""
    if applied_at is None or event_at >= applied_at:
        return None
    return f"event at {event_at.isoformat()} is older than the one applied at {applied_at.isoformat()}"


def crm_changed_after(
    updated_at: datetime | None, origin: str | None, system: str, event_at: datetime
) -> str | None:
    """The CRM changed the row after the vendor's event, and not on this vendor's behalf."""
    if updated_at is None or updated_at <= event_at + CLOCK_ALLOWANCE or origin == system:
        return None
    return (
        f"CRM changed the row at {updated_at.isoformat()} after the vendor's event at {event_at.isoformat()}"
    )


def judge_field(
    current: Any, value: Any, *, older: str | None, not_owned: str | None, crm_newer: str | None
) -> FieldWrite:
    """One field, given why it might not go in (each None when it does not apply), in this order:
    stale beats everything (the CRM has newer than this already); an equal value needs nothing (but
    for the vendor's own field it still counts as applied); a field the vendor does not own, or a
    row the CRM changed since the vendor's event, is a conflict; the rest is applied."""
    if older is not None:
        return FieldWrite("stale", older)
    if current == value:
        return FieldWrite("ignored", not_owned) if not_owned else FieldWrite("unchanged")
    reason = not_owned or crm_newer
    return FieldWrite("conflict", reason) if reason else FieldWrite("apply")
