"""Webhook signing: Standard Webhooks against the specification's reference vector, Zendesk's scheme,
rotation across several secrets, and refusals that are always `InvalidSignature`, never a crash."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_sync.errors import SignatureInvalid
from cdc_sync.signing import (
    InvalidSignature,
    secret_bytes,
    sign,
    signed_headers,
    verify,
    verify_any,
)
from cdc_sync.vendors.zendesk.signing import zendesk_sign, zendesk_signed_headers, zendesk_verify

# The reference vector published with the Standard Webhooks libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
ZENDESK_TIME = "2026-11-23T10:00:00Z"
ZENDESK_NOW = 1795428000.0  # 2026-11-23T10:00:00Z
ZENDESK_BODY = b'{"id": "evt-1"}'
# base64(HMAC-SHA256(secret, timestamp + body)), computed once with the stdlib and pinned.
ZENDESK_SIGNATURE = "pTlXK6FgeiDMPteuH657ada57cUv4JUBTmESo1cfagQ="


def headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_sign_matches_the_reference_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY.decode()) == SIGNATURE
    assert signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY) == headers()


def test_verify_accepts_any_matching_signature_in_the_list() -> None:
    verify(SECRET, headers(f"v1,bm90LXRoaXM= {SIGNATURE}"), BODY, now=TIMESTAMP + 299)


@pytest.mark.parametrize(
    ("given", "body", "now", "reason"),
    [
        (headers(), b'{"test": 1}', TIMESTAMP, "no signature matches"),
        (headers(SIGNATURE.replace("v1,", "v2,")), BODY, TIMESTAMP, "no signature matches"),
        (headers(), BODY, TIMESTAMP + 301, r"timestamp 301 s off \(tolerance 300 s\)"),
        (headers(), BODY, TIMESTAMP - 301, "timestamp 301 s off"),
        (headers(timestamp=-1), BODY, TIMESTAMP, "malformed webhook-timestamp"),
        ({**headers(), "webhook-timestamp": "9" * 5000}, BODY, TIMESTAMP, "malformed webhook-timestamp"),
        ({"webhook-id": MSG_ID}, BODY, TIMESTAMP, "missing webhook-timestamp header"),
        ({**headers(), "webhook-signature": " "}, BODY, TIMESTAMP, "missing webhook-signature header"),
        (headers("v1,sïgnature"), BODY, TIMESTAMP, "no signature matches"),
    ],
)
def test_verify_rejects(given: dict[str, str], body: bytes, now: float, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify(SECRET, given, body, now=now)


def test_secret_prefix_is_optional_but_base64_is_not() -> None:
    assert secret_bytes("whsec_c2VjcmV0") == secret_bytes("c2VjcmV0") == b"secret"
    with pytest.raises(ValueError, match="whsec_"):
        secret_bytes("whsec_not base64!")
    with pytest.raises(ValueError, match="whsec_"):
        secret_bytes("whsec_ñ")


def test_verify_any_accepts_the_current_and_the_next_secret() -> None:
    other = "whsec_c2VjcmV0"
    verify_any([other, SECRET], headers(), BODY, now=TIMESTAMP)
    verify_any([SECRET, other], headers(), BODY, now=TIMESTAMP)
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify_any([other], headers(), BODY, now=TIMESTAMP)


def test_invalid_signature_belongs_to_the_exception_tree() -> None:
    assert issubclass(InvalidSignature, SignatureInvalid)


def test_zendesk_sign_is_base64_hmac_over_timestamp_and_body() -> None:
    assert zendesk_sign(ZENDESK_SECRET, ZENDESK_TIME, ZENDESK_BODY) == ZENDESK_SIGNATURE
    assert zendesk_signed_headers(ZENDESK_SECRET, ZENDESK_TIME, ZENDESK_BODY) == {
        "x-zendesk-webhook-signature": ZENDESK_SIGNATURE,
        "x-zendesk-webhook-signature-timestamp": ZENDESK_TIME,
    }


def zendesk_headers(signature: str = ZENDESK_SIGNATURE, timestamp: str = ZENDESK_TIME) -> dict[str, str]:
    return {"x-zendesk-webhook-signature": signature, "x-zendesk-webhook-signature-timestamp": timestamp}


def test_zendesk_verify_accepts_either_secret_within_tolerance() -> None:
    zendesk_verify(["old", ZENDESK_SECRET], zendesk_headers(), ZENDESK_BODY, now=ZENDESK_NOW + 300)
    zendesk_verify([ZENDESK_SECRET, "new"], zendesk_headers(), ZENDESK_BODY, now=ZENDESK_NOW - 300)


@pytest.mark.parametrize(
    ("given", "now", "reason"),
    [
        (zendesk_headers(), ZENDESK_NOW + 901, r"timestamp 901 s off \(tolerance 300 s\)"),
        (zendesk_headers(zendesk_sign("forged", ZENDESK_TIME, ZENDESK_BODY)), ZENDESK_NOW, "no signature"),
        (zendesk_headers(timestamp="2026-11-23T10:00:00"), ZENDESK_NOW, "malformed"),  # no offset
        (zendesk_headers(timestamp="yesterday"), ZENDESK_NOW, "malformed"),
        (zendesk_headers(timestamp="\uff12\uff10\uff12\uff16-11-23T10:00:00Z"), ZENDESK_NOW, "malformed"),
        ({"x-zendesk-webhook-signature": ZENDESK_SIGNATURE}, ZENDESK_NOW, "missing x-zendesk-webhook-signa"),
    ],
)
def test_zendesk_verify_rejects(given: dict[str, str], now: float, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        zendesk_verify([ZENDESK_SECRET], given, ZENDESK_BODY, now=now)


def test_a_timestamp_with_another_offset_is_the_same_instant() -> None:
    shifted = "2026-11-23T11:00:00+01:00"
    signature = zendesk_sign(ZENDESK_SECRET, shifted, ZENDESK_BODY)
    zendesk_verify([ZENDESK_SECRET], zendesk_headers(signature, shifted), ZENDESK_BODY, now=ZENDESK_NOW)


header_values = st.text(max_size=80) | st.sampled_from(
    ["", "v1,", "0", "-1", "9" * 30, "0001-01-01T00:00:00+14:00"]
)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", *zendesk_headers()]),
        header_values,
    ),
    st.binary(max_size=64),
    st.floats(min_value=0, max_value=4e9),
)
def test_any_unsigned_request_is_refused_as_invalid_signature_only(
    given: dict[str, str], body: bytes, now: float
) -> None:
    with pytest.raises(InvalidSignature):
        verify_any([SECRET], given, body, now=now)
    with pytest.raises(InvalidSignature):
        zendesk_verify([ZENDESK_SECRET], given, body, now=now)
