"""CRM vocabularies mapped onto the values the vendor APIs whitelist.

The mappings are data, one table keyed by kind: adding a CRM spelling is a one-line change
here and needs no new code path. A value nobody mapped becomes `FALLBACK` and the result says
so, letting the caller count it instead of failing the event.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class EnumKind(StrEnum):
    TICKET_STATUS = "ticket_status"
    TICKET_PRIORITY = "ticket_priority"
    TICKET_CHANNEL = "ticket_channel"
    LIFECYCLE_STAGE = "lifecycle_stage"


FALLBACK = "Other"

# CRM spelling (lower case, words joined by `_`) → vendor value.
ENUM_MAPS: Mapping[EnumKind, Mapping[str, str]] = MappingProxyType(
    {
        EnumKind.TICKET_STATUS: {
            "new": "Open",
            "open": "Open",
            "pending": "Pending",
            "on_hold": "OnHold",
            "hold": "OnHold",
            "resolved": "Resolved",
            "solved": "Resolved",
            "closed": "Closed",
            "reopened": "Reopened",
        },
        EnumKind.TICKET_PRIORITY: {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"},
        EnumKind.TICKET_CHANNEL: {
            "chat": "Chat",
            "email": "Email",
            "mail": "Email",
            "social": "Social",
            "twitter": "Social",
            "facebook": "Social",
            "phone": "Phone",
            "voice": "Phone",
            # An explicit "other" is a known value, unlike one nobody mapped.
            "other": "Other",
        },
        EnumKind.LIFECYCLE_STAGE: {
            "lead": "Lead",
            "prospect": "Prospect",
            "customer": "Customer",
            "churned": "Churned",
        },
    }
)

# Every value a kind can produce: what the vendor must accept.
WHITELISTS: Mapping[EnumKind, frozenset[str]] = MappingProxyType(
    {kind: frozenset(table.values()) | {FALLBACK} for kind, table in ENUM_MAPS.items()}
)

_SEPARATORS = re.compile(r"[\s_-]+")


def _key(raw: str) -> str:
    """One spelling for a CRM value however it was typed: `On Hold`, `on-hold`, ` ON_HOLD `."""
    return _SEPARATORS.sub("_", raw.strip().lower())


# Vendor values map to themselves too ("OnHold" → "onhold"), so mapping is idempotent and a
# record that already carries the vendor's value passes through as known.
_LOOKUP: Mapping[EnumKind, Mapping[str, str]] = MappingProxyType(
    {kind: {**{_key(value): value for value in table.values()}, **table} for kind, table in ENUM_MAPS.items()}
)


@dataclass(frozen=True)
class EnumResult:
    """The vendor value, whether the CRM value was a mapped one, and the CRM value as read."""

    value: str
    known: bool
    raw: str | None


def map_enum(kind: EnumKind, raw: str | None) -> EnumResult:
    """The vendor value for a CRM value, matched ignoring case, surrounding space and separators.

    A missing or unmapped value gives `FALLBACK` with `known=False`, for a warning metric.
    """
    value = _LOOKUP[kind].get(_key(raw)) if raw is not None else None
    return EnumResult(value or FALLBACK, known=value is not None, raw=raw)
