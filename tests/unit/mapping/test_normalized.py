"""One event's values, normalized once: the same answers as the normalizers, asked once."""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.errors import RejectedEvent
from cdc_sync.mapping import normalize
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.mapping.normalized import NormalizedFields

# Values people type, beside generated ones: the forms each normalizer treats specially.
EMAILS = st.one_of(
    st.emails(),
    st.sampled_from(
        [" Ada@Example.COM ", "not-an-email", "", "a@localhost", "üser@exämple.de", "a..b@example.com"]
    ),
    st.text(max_size=30),
    st.none(),
)
PHONES = st.one_of(
    st.sampled_from(["030 1234567", "+4930123456", "+1 415 555 2671", "+49 30 1234567 ext. 5", "12345"]),
    st.text(alphabet="+0123456789 -()", max_size=20),
    st.none(),
)
COUNTRIES = st.one_of(
    st.sampled_from(["DE", "Germany", "UK", "XK", "côte d'ivoire", "deu", "Atlantis"]), st.none()
)
LOCALES = st.one_of(
    st.sampled_from(["de_DE", "EN-us", "und", "zh_CN", "xx-YY", "!!"]), st.text(max_size=8), st.none()
)
TIMEZONES = st.one_of(
    st.sampled_from(["europe/berlin", "UTC", "Mars/Olympus", "../../etc/passwd"]), st.none()
)
STAGES = st.one_of(st.sampled_from(["customer", "Lead", "prospect ", "weird"]), st.none())
CONTACTS = st.fixed_dictionaries(
    {
        "email": EMAILS,
        "phone": PHONES,
        "country": COUNTRIES,
        "locale": LOCALES,
        "timezone": TIMEZONES,
        "lifecycle_stage": STAGES,
    }
)


def email_or_reason(normalizer: Callable[[str | None], str], raw: str | None) -> str:
    try:
        return normalizer(raw)
    except RejectedEvent as exc:
        return f"rejected: {exc}"


def uncached_email(raw: str | None) -> str:
    return normalize.check_email.__wrapped__(raw).accepted()


@given(CONTACTS)
def test_each_value_is_what_the_normalizer_computes(row: dict[str, Any]) -> None:
    fields = NormalizedFields()
    region = normalize.normalize_country.__wrapped__(row["country"])
    for _ in range(2):  # the second destination reads the remembered values
        assert email_or_reason(fields.email, row["email"]) == email_or_reason(uncached_email, row["email"])
        assert fields.phone(row["phone"], row["country"]) == normalize.normalize_phone.__wrapped__(
            row["phone"], region
        )
        assert fields.country(row["country"]) == region
        assert fields.locale(row["locale"]) == normalize.normalize_locale.__wrapped__(row["locale"])
        assert fields.timezone(row["timezone"]) == normalize.normalize_timezone.__wrapped__(row["timezone"])
        assert fields.lifecycle_stage(row["lifecycle_stage"]) == map_enum(
            EnumKind.LIFECYCLE_STAGE, row["lifecycle_stage"]
        )


def calls(normalizer: Any) -> int:
    info = normalizer.cache_info()
    return int(info.hits + info.misses)


def test_a_value_asked_for_again_is_not_normalized_again() -> None:
    fields = NormalizedFields()
    before = calls(normalize.check_email), calls(normalize.normalize_phone)
    for _ in range(3):
        fields.email("Ada@Example.com")
        fields.phone("030 1234567", "Germany")
    assert (calls(normalize.check_email), calls(normalize.normalize_phone)) == (before[0] + 1, before[1] + 1)


def test_an_invalid_address_is_rejected_every_time_it_is_asked_for() -> None:
    fields = NormalizedFields()
    for _ in range(2):
        with pytest.raises(RejectedEvent, match="invalid email 'not-an-email'"):
            fields.email("not-an-email")


def test_a_remembered_rejection_gives_the_reason_of_a_fresh_one() -> None:
    normalize.check_email.cache_clear()
    fresh = email_or_reason(normalize.normalize_email, "Bad@@Example.com")
    assert fresh.startswith("rejected: invalid email 'Bad@@Example.com'")
    assert email_or_reason(normalize.normalize_email, "Bad@@Example.com") == fresh
    assert normalize.check_email.cache_info().hits >= 1
