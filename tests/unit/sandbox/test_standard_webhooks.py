"""Standard Webhooks signing, checked against the specification's reference vector."""

import pytest

from cdc_sync.sandbox.standard_webhooks import InvalidSignature, secret_bytes, sign, signed_headers, verify

# The reference vector published with the Standard Webhooks libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


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
        (headers(), b'{"test": 1}', TIMESTAMP, "no webhook-signature matches"),
        (headers(SIGNATURE.replace("v1,", "v2,")), BODY, TIMESTAMP, "no webhook-signature matches"),
        (headers(), BODY, TIMESTAMP + 301, "from now"),
        (headers(), BODY, TIMESTAMP - 301, "from now"),
        (headers(timestamp=-1), BODY, TIMESTAMP, "malformed"),
        ({"webhook-id": MSG_ID}, BODY, TIMESTAMP, "missing"),
        (headers("v1,sïgnature"), BODY, TIMESTAMP, "no webhook-signature matches"),
    ],
)
def test_verify_rejects(given: dict[str, str], body: bytes, now: float, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify(SECRET, given, body, now=now)


def test_secret_prefix_is_optional_but_base64_is_not() -> None:
    assert secret_bytes("whsec_c2VjcmV0") == secret_bytes("c2VjcmV0") == b"secret"
    with pytest.raises(ValueError, match="whsec_"):
        secret_bytes("whsec_not base64!")
