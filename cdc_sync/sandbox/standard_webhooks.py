"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
`{id}.{timestamp}.{body}`, sent as `webhook-signature: v1,<base64> [v1,<base64> ...]`."""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
TOLERANCE_S = 5 * 60
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class InvalidSignature(Exception):
    """The request is not provably from the holder of the secret, or not recent enough."""


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"webhook secret is not {SECRET_PREFIX}<base64>: {exc}") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`."""
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_s: float = TOLERANCE_S
) -> None:
    """Raise InvalidSignature unless one `v1` signature matches and the timestamp is recent.

    `headers` are looked up by lower-case name.
    """
    msg_id, timestamp, signatures = (headers.get(name, "") for name in SIGNED_HEADERS)
    if not (msg_id and timestamp.isascii() and timestamp.isdigit() and signatures):
        raise InvalidSignature("missing or malformed webhook-id, webhook-timestamp or webhook-signature")
    if abs(now - int(timestamp)) > tolerance_s:
        raise InvalidSignature(f"webhook-timestamp {timestamp} is more than {tolerance_s:g}s from now")
    expected = sign(secret, msg_id, int(timestamp), body).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split()):
        raise InvalidSignature("no webhook-signature matches the body")
