"""How the marketing sandbox sends the webhooks it emits: list events as unsigned form posts,
engagement events as Standard Webhooks."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cdc_sync.sandbox.emit import Encoder, standard_webhooks

MAILCHIMP_LIST_EVENTS = frozenset({"subscribe", "unsubscribe", "profile", "upemail", "cleaned"})


def _form_fields(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [pair for key, item in value.items() for pair in _form_fields(f"{prefix}[{key}]", item)]
    return [(prefix, str(value))]


def mailchimp(secret: str) -> Encoder:
    """List events are form posts secured only by the URL; engagement events are signed JSON."""
    signed = standard_webhooks(secret)

    def encode(payload: Mapping[str, Any], event_id: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
        if payload.get("type") not in MAILCHIMP_LIST_EVENTS:
            return signed(payload, event_id, timestamp)
        fields = [pair for key, value in payload.items() for pair in _form_fields(key, value)]
        return urlencode(fields).encode(), {"content-type": "application/x-www-form-urlencoded"}

    return encode
