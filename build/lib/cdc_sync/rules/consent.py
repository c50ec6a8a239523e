"""Consent: an unsubscribe wins everywhere; a re-subscribe needs newer consent evidence."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cdc_sync.errors import RejectedEvent

OPTED_OUT: frozenset[str] = frozenset({"unsubscribed", "cleaned"})


def is_resubscribe(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    return before is not None and before.get("status") in OPTED_OUT and after.get("status") == "subscribed"


def check_resubscribe(before: Mapping[str, Any] | None, after: Mapping[str, Any], who: str) -> None:
    """Raise `RejectedEvent` unless a re-subscribe carries consent newer than the opt-out and a source."""
    if not is_resubscribe(before, after):
        return
    assert before is not None
    opted_out_at = before.get("unsubscribed_at") or before.get("consent_timestamp")
    consent_at = after.get("consent_timestamp")
    if not after.get("consent_source"):
        raise RejectedEvent(f"re-subscribe of {who} refused: no consent_source given")
    if not isinstance(consent_at, datetime) or (
        isinstance(opted_out_at, datetime) and consent_at <= opted_out_at
    ):
        raise RejectedEvent(
            f"re-subscribe of {who} refused: consent_timestamp {consent_at} is not newer than "
            f"the unsubscribe at {opted_out_at}"
        )
