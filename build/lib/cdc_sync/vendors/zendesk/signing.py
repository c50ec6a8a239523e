"""Zendesk's webhook signature: base64 HMAC-SHA256 over `{timestamp}{body}` with the secret's UTF-8
bytes, sent as `X-Zendesk-Webhook-Signature`, the ISO 8601 timestamp as
`X-Zendesk-Webhook-Signature-Timestamp`. Pure; refusals are always `InvalidSignature`."""

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cdc_sync.signing import (
    TOLERANCE_S,
    InvalidSignature,
    as_bytes,
    check_any_matches,
    check_fresh,
    required_headers,
)

ZENDESK_SIGNATURE = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
ZENDESK_HEADERS = (ZENDESK_SIGNATURE, ZENDESK_TIMESTAMP)
_MAX_ISO_LENGTH = 64


def zendesk_sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Zendesk-Webhook-Signature` value: base64 HMAC-SHA256 over timestamp + body."""
    digest = hmac.new(as_bytes(secret), as_bytes(timestamp) + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def zendesk_signed_headers(secret: str, timestamp: str, body: bytes) -> dict[str, str]:
    return {ZENDESK_SIGNATURE: zendesk_sign(secret, timestamp, body), ZENDESK_TIMESTAMP: timestamp}


def _iso_seconds(timestamp: str) -> float:
    """Unix seconds of an ISO 8601 timestamp with an offset, like `2026-11-23T10:00:00Z`."""
    malformed = InvalidSignature(f"malformed {ZENDESK_TIMESTAMP} header (want ISO 8601 with offset)")
    if not (timestamp.isascii() and len(timestamp) <= _MAX_ISO_LENGTH):
        raise malformed
    try:
        sent_at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise malformed from None
    if sent_at.tzinfo is None:
        raise malformed
    return sent_at.timestamp()


def zendesk_verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Raise InvalidSignature unless the Zendesk signature is by one of `secrets` and recent.

    `headers` are looked up by lower-case name.
    """
    signature, timestamp = required_headers(headers, ZENDESK_HEADERS)
    check_fresh(_iso_seconds(timestamp), now, tolerance_s)
    check_any_matches([zendesk_sign(secret, timestamp, body) for secret in secrets], [signature])


@dataclass(frozen=True)
class ZendeskVerifier:
    """The `zendesk` scheme of a webhook source (all configured secrets accepted, for rotation)."""

    secrets: Sequence[str] = field(repr=False)
    tolerance_s: float

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: float) -> None:
        lower = {name.lower(): value for name, value in headers.items()}
        zendesk_verify(self.secrets, lower, body, now=now, tolerance_s=self.tolerance_s)
