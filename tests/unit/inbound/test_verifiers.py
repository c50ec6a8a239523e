"""The verifier port: one adapter per scheme, secrets from the environment, rotation, readable refusals."""

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_sync.errors import ConfigError, SignatureInvalid
from cdc_sync.inbound.sources import DEFAULT_SOURCES, SourceConfig, build_verifier
from cdc_sync.inbound.verifiers import StandardWebhooksVerifier, UrlSecretVerifier, Verifier
from cdc_sync.signing import signed_headers
from cdc_sync.vendors.zendesk.signing import ZendeskVerifier, zendesk_signed_headers

NOW = 1_795_428_000.0  # 2026-11-23T10:00:00Z
CURRENT, NEXT = "whsec_Y3VycmVudC1zZWNyZXQ=", "whsec_bmV4dC1zZWNyZXQ="
BODY = b'{"type": "collection.recorded"}'
NO_QUERY: Mapping[str, str] = {}


def standard(*secrets: str) -> Verifier:
    return StandardWebhooksVerifier(secrets, 300)


def test_standard_webhooks_accepts_the_current_and_the_next_secret() -> None:
    for secret in (CURRENT, NEXT):
        standard(CURRENT, NEXT).verify(signed_headers(secret, "msg_1", int(NOW), BODY), BODY, NO_QUERY, NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {
        name.title(): value for name, value in signed_headers(CURRENT, "msg_1", int(NOW), BODY).items()
    }
    assert "Webhook-Signature" in headers
    standard(CURRENT).verify(headers, BODY, NO_QUERY, NOW)
    zendesk = {k.upper(): v for k, v in zendesk_signed_headers("zd", "2026-11-23T10:00:00Z", BODY).items()}
    ZendeskVerifier(("zd",), 300).verify(zendesk, BODY, NO_QUERY, NOW)


@pytest.mark.parametrize(
    ("secret", "sent_at", "body", "reason"),
    [
        ("whsec_Zm9yZ2Vk", NOW, BODY, "no signature matches"),
        (CURRENT, NOW, b"{}", "no signature matches"),
        (CURRENT, NOW - 901, BODY, r"^timestamp 901 s off \(tolerance 300 s\)$"),
        (CURRENT, NOW + 301, BODY, r"^timestamp 301 s off"),
    ],
    ids=["forged", "tampered", "stale", "future"],
)
def test_standard_webhooks_refuses(secret: str, sent_at: float, body: bytes, reason: str) -> None:
    headers = signed_headers(secret, "msg_1", int(sent_at), BODY)
    with pytest.raises(SignatureInvalid, match=reason):
        standard(CURRENT, NEXT).verify(headers, body, NO_QUERY, NOW)


def test_a_missing_header_is_named() -> None:
    headers = signed_headers(CURRENT, "msg_1", int(NOW), BODY)
    del headers["webhook-signature"]
    with pytest.raises(SignatureInvalid, match=r"^missing webhook-signature header$"):
        standard(CURRENT).verify(headers, BODY, NO_QUERY, NOW)


def test_zendesk_accepts_both_secrets_within_its_own_tolerance() -> None:
    verifier = ZendeskVerifier(("old", "new"), 60)
    for secret in ("old", "new"):
        headers = zendesk_signed_headers(secret, "2026-11-23T10:00:00Z", BODY)
        verifier.verify(headers, BODY, NO_QUERY, NOW + 60)
    with pytest.raises(SignatureInvalid, match=r"61 s off \(tolerance 60 s\)"):
        verifier.verify(headers, BODY, NO_QUERY, NOW + 61)


def test_url_secret_matches_the_query_parameter_against_either_secret() -> None:
    verifier = UrlSecretVerifier(("list-old", "list-new"), 300)
    verifier.verify({}, b"", {"secret": "list-old"}, NOW)
    verifier.verify({}, b"", {"secret": "list-new"}, NOW)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verifier.verify({}, b"", {"secret": "list-older"}, NOW)
    with pytest.raises(SignatureInvalid, match="missing secret query parameter"):
        verifier.verify({"secret": "list-old"}, b"", {}, NOW)


def test_build_verifier_picks_the_scheme_and_reads_every_set_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_SYNC_ERP_WEBHOOK_SECRET", CURRENT)
    monkeypatch.setenv("CDC_SYNC_ERP_WEBHOOK_SECRET_NEXT", NEXT)
    monkeypatch.setenv("CDC_SYNC_MARKETING_LIST_SECRET_NEXT", "list-new")
    monkeypatch.delenv("CDC_SYNC_MARKETING_LIST_SECRET", raising=False)
    assert build_verifier(DEFAULT_SOURCES["erp"]) == StandardWebhooksVerifier((CURRENT, NEXT), 300)
    assert build_verifier(DEFAULT_SOURCES["marketing-lists"]) == UrlSecretVerifier(("list-new",), 300)
    assert CURRENT not in repr(build_verifier(DEFAULT_SOURCES["erp"]))


def test_a_source_without_any_secret_names_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDC_SYNC_HELPDESK_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("CDC_SYNC_HELPDESK_WEBHOOK_SECRET_NEXT", "")
    expected = "CDC_SYNC_HELPDESK_WEBHOOK_SECRET or CDC_SYNC_HELPDESK_WEBHOOK_SECRET_NEXT"
    with pytest.raises(ConfigError, match=expected):
        build_verifier(DEFAULT_SOURCES["helpdesk"])


def test_a_standard_webhooks_secret_that_is_not_base64_fails_at_start_up() -> None:
    config = SourceConfig(scheme="standard_webhooks", system="erp", secret_envs=("ERP_SECRET",))
    assert [s.get_secret_value() for s in config.secrets({"ERP_SECRET": "whsec_%%"})] == ["whsec_%%"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ERP_SECRET", "whsec_%%")
        with pytest.raises(ConfigError, match="ERP_SECRET: webhook secret is not whsec_<base64>"):
            build_verifier(config)


def test_a_source_names_one_or_two_secret_variables() -> None:
    for envs in ((), ("A", "B", "C")):
        with pytest.raises(ValueError, match="secret_envs"):
            SourceConfig(scheme="zendesk", system="helpdesk", secret_envs=envs)


VERIFIERS = [
    standard(CURRENT, NEXT),
    ZendeskVerifier(("zd-old", "zd-new"), 300),
    UrlSecretVerifier(("list-old", "list-new"), 300),
]
SIGNATURE_NAMES = [
    "webhook-id",
    "Webhook-Timestamp",
    "WEBHOOK-SIGNATURE",
    "x-zendesk-webhook-signature",
    "X-Zendesk-Webhook-Signature-Timestamp",
]
texts = st.text(max_size=60) | st.sampled_from(["v1,", "1795428000", "2026-11-23T10:00:00Z", "x" * 20_000])


@settings(max_examples=300)
@given(
    st.dictionaries(st.sampled_from(SIGNATURE_NAMES) | st.text(max_size=20), texts, max_size=6),
    st.dictionaries(st.sampled_from(["secret", "Secret"]) | st.text(max_size=10), texts, max_size=3),
    st.binary(max_size=200),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
)
def test_every_verifier_refuses_what_it_did_not_sign_with_signature_invalid_only(
    headers: dict[str, str], query: dict[str, str], body: bytes, now: float
) -> None:
    for verifier in VERIFIERS:
        with pytest.raises(SignatureInvalid):
            verifier.verify(headers, body, query, now)
