"""Webhook signature schemes, pure: sign a body, or prove a received one was signed by a secret's holder.

- Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}`
  with the base64 key of a `whsec_` secret, sent as `webhook-signature: v1,<base64> [v1,<base64> ...]`.
Vendors with a scheme of their own build it from the pieces here (`required_headers`,
`check_fresh`, `check_any_matches`).

Verification accepts any of several secrets (the current and the next one during rotation) and takes
headers by lower-case name. Every input string is compared as bytes in constant time.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

from cdc_sync.errors import SignatureInvalid

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
TOLERANCE_S = 5 * 60
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# Bounded so that int() and float arithmetic cannot fail on a hostile value (13 digits reach year 2286).
_UNIX_SECONDS = re.compile(r"[0-9]{1,13}")


class InvalidSignature(SignatureInvalid):
    """The request is not provably from the holder of the secret, or not recent enough."""


def as_bytes(text: str) -> bytes:
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
    signed = as_bytes(f"{msg_id}.{timestamp}.") + payload
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


def required_headers(headers: Mapping[str, str], names: Sequence[str]) -> list[str]:
    values = [headers.get(name, "").strip() for name in names]
    for name, value in zip(names, values, strict=True):
        if not value:
            raise InvalidSignature(f"missing {name} header")
    return values


def check_fresh(sent_at: float, now: float, tolerance_s: float) -> None:
    offset = abs(now - sent_at)
    if offset > tolerance_s:
        raise InvalidSignature(f"timestamp {offset:.0f} s off (tolerance {tolerance_s:g} s)")


def check_any_matches(expected: Iterable[str], candidates: Sequence[str]) -> None:
    given = [as_bytes(candidate) for candidate in candidates]
    # Every expected value against every candidate: which secret matched is not observable by timing.
    matches = [hmac.compare_digest(as_bytes(want), have) for want in expected for have in given]
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
    msg_id, timestamp, signatures = required_headers(headers, SIGNED_HEADERS)
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise InvalidSignature("malformed webhook-timestamp header (want unix seconds)")
    check_fresh(int(timestamp), now, tolerance_s)
    keys = [secret_bytes(secret) for secret in secrets]
    expected = [_standard_signature(key, msg_id, int(timestamp), body) for key in keys]
    check_any_matches(expected, signatures.split())


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_s: float = TOLERANCE_S
) -> None:
    """Raise InvalidSignature unless one `v1` signature matches and the timestamp is recent.

    `headers` are looked up by lower-case name.
    """
    verify_any([secret], headers, body, now=now, tolerance_s=tolerance_s)
