"""The verifier port: is this request provably from the vendor, and recent? One adapter per scheme
(the shared ones here, a vendor's own in its folder).

Adapters hold resolved secrets (all configured ones are accepted, for rotation), look headers up
case-insensitively and raise `SignatureInvalid` with a short reason; they never raise anything else
for any input, so a request cannot turn verification into a server error.
"""

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cdc_sync.errors import SignatureInvalid
from cdc_sync.signing import secret_bytes, verify_any

URL_SECRET_PARAMETER = "secret"


class Verifier(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: float) -> None:
        """Return if the request is authentic, else raise SignatureInvalid."""


def _by_lower_name(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@dataclass(frozen=True)
class StandardWebhooksVerifier:
    secrets: Sequence[str] = field(repr=False)
    tolerance_s: float

    def __post_init__(self) -> None:
        for secret in self.secrets:
            secret_bytes(secret)  # a malformed secret fails at start-up, not on the first request

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: float) -> None:
        verify_any(self.secrets, _by_lower_name(headers), body, now=now, tolerance_s=self.tolerance_s)


@dataclass(frozen=True)
class UrlSecretVerifier:
    """For senders that cannot sign (a marketing platform's list webhooks): the URL carries a shared
    secret.

    Weaker than a signature (no body integrity, no freshness), so only list events use it.
    """

    secrets: Sequence[str] = field(repr=False)
    tolerance_s: float

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: float) -> None:
        given = query.get(URL_SECRET_PARAMETER)
        if not given:
            raise SignatureInvalid(f"missing {URL_SECRET_PARAMETER} query parameter")
        given_bytes = given.encode("utf-8", "surrogatepass")
        wanted = [secret.encode("utf-8", "surrogatepass") for secret in self.secrets]
        matches = [hmac.compare_digest(given_bytes, secret) for secret in wanted]
        if not any(matches):
            raise SignatureInvalid(f"{URL_SECRET_PARAMETER} query parameter does not match")


VerifierFactory = Callable[[Sequence[str], float], Verifier]
"""(secrets, tolerance in seconds) → the verifier of one scheme."""

SCHEMES: dict[str, VerifierFactory] = {
    "standard_webhooks": StandardWebhooksVerifier,
    "url_secret": UrlSecretVerifier,
}
"""The schemes every vendor may use; a vendor with a scheme of its own brings it (`Vendor.schemes`)."""
