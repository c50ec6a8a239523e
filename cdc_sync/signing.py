"""Webhook signature schemes, pure: sign a body, or prove a received one was signed by a secret's holder.

- Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}`
  with the base64 key of a `whsec_` secret, sent as `webhook-signature: v1,<base64> [v1,<base64> ...]`.
- Zendesk: base64 HMAC-SHA256 over `{timestamp}{body}` with the secret's UTF-8 bytes, sent as
  `X-Zendesk-Webhook-Signature`, the ISO 8601 timestamp as `X-Zendesk-Webhook-Signature-Timestamp`.

Verification accepts any of several secrets (the current and the next one during rotation) and takes
headers by lower-case name. Every input string is compared as bytes in constant time.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from cdc_sync.errors import SignatureInvalid

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
TOLERANCE_S = 5 * 60
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
ZENDESK_SIGNATURE = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
ZENDESK_HEADERS = (ZENDESK_SIGNATURE, ZENDESK_TIMESTAMP)
# Bounded so that int() and float arithmetic cannot fail on a hostile value (13 digits reach year 2286).
_UNIX_SECONDS = re.compile(r"[0-9]{1,13}")
_MAX_ISO_LENGTH = 64


class InvalidSignature(SignatureInvalid):
    """The request is not provably from the holder of the secret, or not recent enough."""


def _bytes(text: str) -> bytes:
    # surrogatepass: a str that did not come from HTTP bytes must still encode, one-to-one.
    return text.encode("utf-8", "surrogatepass")


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"webhook secret is not {SECRET_PREFIX}<base64>: {exc}") from exc


def _standard_signature(key: bytes, msg_id: str, timestamp: int, payload: bytes) -> str:
    signed = _bytes(f"{msg_id}.{timestamp}.") + payload
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`."""
    payload = body.encode() if isinstance(body, str) else body
    return _standard_signature(secret_bytes(secret), msg_id, timestamp, payload)


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def _required(headers: Mapping[str, str], names: Sequence[str]) -> list[str]:
    values = [headers.get(name, "").strip() for name in names]
    for name, value in zip(names, values, strict=True):
        if not value:
            raise InvalidSignature(f"missing {name} header")
    return values


def _check_fresh(sent_at: float, now: float, tolerance_s: float) -> None:
    offset = abs(now - sent_at)
    if offset > tolerance_s:
        raise InvalidSignature(f"timestamp {offset:.0f} s off (tolerance {tolerance_s:g} s)")


def _check_any_matches(expected: Iterable[str], candidates: Sequence[str]) -> None:
    given = [_bytes(candidate) for candidate in candidates]
    # Every expected value against every candidate: which secret matched is not observable by timing.
    matches = [hmac.compare_digest(_bytes(want), have) for want in expected for have in given]
    if not any(matches):
        raise InvalidSignature("no signature matches")


def verify_any(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Raise InvalidSignature unless a `v1` signature by one of `secrets` matches and the timestamp is
    recent. `headers` are looked up by lower-case name."""
    msg_id, timestamp, signatures = _required(headers, SIGNED_HEADERS)
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise InvalidSignature("malformed webhook-timestamp header (want unix seconds)")
    _check_fresh(int(timestamp), now, tolerance_s)
    keys = [secret_bytes(secret) for secret in secrets]
    expected = [_standard_signature(key, msg_id, int(timestamp), body) for key in keys]
    _check_any_matches(expected, signatures.split())


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_s: float = TOLERANCE_S
) -> None:
    """Raise InvalidSignature unless one `v1` signature matches and the timestamp is recent.

    `headers` are looked up by lower-case name.
    """
    verify_any([secret], headers, body, now=now, tolerance_s=tolerance_s)


def zendesk_sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Zendesk-Webhook-Signature` value: base64 HMAC-SHA256 over timestamp + body."""
    digest = hmac.new(_bytes(secret), _bytes(timestamp) + body, hashlib.sha256).digest()
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
    signature, timestamp = _required(headers, ZENDESK_HEADERS)
    _check_fresh(_iso_seconds(timestamp), now, tolerance_s)
    _check_any_matches([zendesk_sign(secret, timestamp, body) for secret in secrets], [signature])
