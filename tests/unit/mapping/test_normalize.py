"""Contact fields come out in the form the vendor APIs accept, or the event is rejected."""

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import phonenumbers
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from cdc_sync.errors import RejectedEvent
from cdc_sync.mapping.normalize import (
    MAX_TAG_LENGTH,
    PHONE_UNFORMATTED_TAG,
    PhoneResult,
    TagResult,
    normalize_country,
    normalize_email,
    normalize_locale,
    normalize_phone,
    normalize_timezone,
    sanitize_tags,
    source_offset,
    to_utc_iso,
    unify_csat,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TAG = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_TAG_LENGTH}}}")


# --- email ---------------------------------------------------------------------------------


def test_email_is_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Jane.Doe@Example.COM \n") == "jane.doe@example.com"


def test_invalid_email_is_rejected_with_the_value_and_the_reason() -> None:
    with pytest.raises(RejectedEvent) as rejected:
        normalize_email(" not-an-email ")
    assert str(rejected.value).startswith("invalid email 'not-an-email': ")
    assert "@" in str(rejected.value)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_email_is_rejected(raw: str | None) -> None:
    with pytest.raises(RejectedEvent, match="email is missing"):
        normalize_email(raw)


def test_email_check_never_needs_the_network() -> None:
    # A domain without mail servers is still syntactically fine; deliverability is not checked.
    assert normalize_email("a@no-mx-record-here.example") == "a@no-mx-record-here.example"


@st.composite
def emails_in_any_case(draw: st.DrawFn) -> str:
    email = draw(st.emails())
    flips = draw(st.lists(st.booleans(), min_size=len(email), max_size=len(email)))
    return "".join(char.upper() if flip else char for char, flip in zip(email, flips, strict=True))


@given(emails_in_any_case(), st.sampled_from(["", " ", "\t", "\n "]))
def test_email_normalization_is_idempotent_and_lower_case(email: str, padding: str) -> None:
    try:
        normalized = normalize_email(padding + email + padding)
    except RejectedEvent:
        reject()  # st.emails() can draw domains email-validator refuses (e.g. `.test`)
    assert normalized == normalized.lower()
    assert normalize_email(normalized) == normalized


# --- phone ---------------------------------------------------------------------------------


def test_local_number_is_formatted_with_the_contact_country() -> None:
    assert normalize_phone("030 12345678", "DE") == PhoneResult("+493012345678", formatted=True)
    assert normalize_phone("(650) 253-0000", "us") == PhoneResult("+16502530000", formatted=True)


def test_international_number_needs_no_country() -> None:
    assert normalize_phone("+86 138 0013 8000", None) == PhoneResult("+8613800138000", formatted=True)
    # The number's own country code wins over the contact's country.
    assert normalize_phone("+44 20 7946 0958", "DE") == PhoneResult("+442079460958", formatted=True)


def test_country_may_be_given_in_any_form_normalize_country_reads() -> None:
    assert normalize_phone("030 12345678", "Germany").value == "+493012345678"


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("030 12345678", None),  # local number, country unknown
        ("call me maybe", "DE"),
        ("+49 123", "DE"),  # parses, but is not a valid number
        ("+1 650-253-0000 ext. 123", None),  # E.164 cannot carry the extension
    ],
)
def test_unformattable_number_is_kept_as_typed_and_flagged(raw: str, region: str | None) -> None:
    assert normalize_phone(f"  {raw} ", region) == PhoneResult(raw, formatted=False)
    assert PHONE_UNFORMATTED_TAG == "phone_unformatted"


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_phone_is_not_flagged(raw: str | None) -> None:
    assert normalize_phone(raw, "DE") == PhoneResult(None, formatted=True)


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
# Each region's example number as a local would write it, and its E.164 form.
EXAMPLES = {
    region: (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )
    for region in REGIONS
    if (number := phonenumbers.example_number(region)) is not None
}


def test_local_numbers_of_every_region_are_formatted() -> None:
    for region, (national, e164) in EXAMPLES.items():
        assert normalize_phone(national, region) == PhoneResult(e164, formatted=True), region


phone_like = st.text(alphabet="0123456789 +-().x", max_size=25)
local_numbers = st.sampled_from([national for national, _ in EXAMPLES.values()])


@given(
    st.none() | st.text(max_size=40) | phone_like | local_numbers,
    st.none() | st.sampled_from(REGIONS) | st.text(max_size=5),
)
def test_phone_is_e164_and_formatted_or_stripped_raw_and_flagged(raw: str | None, region: str | None) -> None:
    result = normalize_phone(raw, region)
    if result.formatted:
        assert result.value is None or E164.match(result.value)
    else:
        assert raw is not None
        assert result.value == raw.strip() != ""


# --- country, locale, timezone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Germany", "DE"),
        ("deu", "DE"),
        ("de", "DE"),
        (" DE ", "DE"),
        ("united states", "US"),
        ("Federal Republic of Germany", "DE"),  # official name
        ("South Korea", "KR"),  # common name
        ("UK", "GB"),
        ("Cote d'Ivoire", "CI"),  # accents are optional
        ("Turkey", "TR"),
    ],
)
def test_country_becomes_alpha_2(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "Atlantis", "Germani", "XX", "276"])
def test_unknown_country_is_none(raw: str | None) -> None:
    # No fuzzy matching: "Germani" could as well be a typo for something else.
    assert normalize_country(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("zh_CN", "zh-CN"), ("EN-us", "en-US"), ("de", "de"), (" pt-br ", "pt-BR"), ("es-419", "es-419")],
)
def test_locale_becomes_bcp47(raw: str, expected: str) -> None:
    assert normalize_locale(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "not a locale", "xx-YY", "en_US_POSIX", "und"])
def test_invalid_locale_is_none(raw: str | None) -> None:
    assert normalize_locale(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Asia/Shanghai", "Asia/Shanghai"), ("asia/shanghai", "Asia/Shanghai"), (" UTC ", "UTC")],
)
def test_timezone_is_the_canonical_iana_name(raw: str, expected: str) -> None:
    assert normalize_timezone(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "Mars/Olympus", "CEST", "../../etc/passwd"])
def test_unknown_timezone_is_none(raw: str | None) -> None:
    assert normalize_timezone(raw) is None


# --- timestamps ----------------------------------------------------------------------------


def test_timestamps_are_written_in_utc_with_z() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    assert to_utc_iso(datetime(2026, 3, 1, 11, 0, tzinfo=berlin_winter)) == "2026-03-01T10:00:00Z"
    assert to_utc_iso(datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)) == "2026-03-01T10:00:00.250000Z"


def test_naive_timestamps_are_taken_as_utc() -> None:
    assert to_utc_iso(datetime(2026, 3, 1, 10, 0)) == "2026-03-01T10:00:00Z"
    assert source_offset(datetime(2026, 3, 1, 10, 0)) is None


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=1), "+01:00"),
        (timedelta(hours=-5, minutes=-30), "-05:30"),
        (timedelta(0), "+00:00"),
        (timedelta(minutes=19, seconds=32), "+00:19:32"),
    ],
)
def test_source_offset_is_kept_for_audit(offset: timedelta, expected: str) -> None:
    assert source_offset(datetime(2026, 3, 1, 10, 0, tzinfo=timezone(offset))) == expected


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.one_of(st.none(), st.timezones()),
    )
)
def test_utc_iso_is_the_same_instant(value: datetime) -> None:
    written = to_utc_iso(value)
    assert written.endswith("Z")
    expected = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    # Timestamps, not datetimes, are compared: aware datetimes in a DST gap never compare equal.
    assert datetime.fromisoformat(written.removesuffix("Z") + "+00:00").timestamp() == expected.timestamp()


# --- tags ----------------------------------------------------------------------------------


def test_tags_are_trimmed_deduplicated_and_filtered() -> None:
    result = sanitize_tags(
        ["high-value-prospect", " vip ", "vip", "VIP", "no spaces", "ünïcode", "", "a" * 101]
    )
    assert result == TagResult(
        kept=("high-value-prospect", "vip", "VIP"),
        rejected=("no spaces", "ünïcode", "", "a" * 101),
    )


def test_tag_of_maximum_length_is_kept() -> None:
    assert sanitize_tags(["a" * MAX_TAG_LENGTH]).kept == ("a" * MAX_TAG_LENGTH,)


@given(st.lists(st.text(max_size=5) | st.text(alphabet="ab-1 ", max_size=8) | st.just("x" * 101)))
def test_tags_kept_are_legal_and_every_tag_is_accounted_for(names: list[str]) -> None:
    result = sanitize_tags(names)
    assert all(TAG.fullmatch(tag) for tag in result.kept)
    assert not any(TAG.fullmatch(tag) for tag in result.rejected)
    together = result.kept + result.rejected
    assert len(together) == len(set(together))
    assert set(together) == {name.strip() for name in names}


# --- CSAT ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [(0, 5, 0), (5, 5, 100), (4.3, 5, 86), (3.625, 5, 73), (72.5, 100, 73), (72.4, 100, 72), (100, 100, 100)],
)
def test_csat_is_on_the_0_to_100_scale_rounded_half_up(
    value: float, scale: Literal[5, 100], expected: int
) -> None:
    assert unify_csat(value, scale) == expected


@pytest.mark.parametrize(("value", "scale"), [(-1, 5), (5.5, 5), (101, 100), (float("nan"), 100)])
def test_csat_outside_its_scale_is_rejected(value: float, scale: Literal[5, 100]) -> None:
    with pytest.raises(RejectedEvent, match="outside the 0-"):
        unify_csat(value, scale)


def test_csat_on_an_unknown_scale_is_rejected() -> None:
    with pytest.raises(RejectedEvent, match="unknown CSAT scale 10"):
        unify_csat(7, 10)  # type: ignore[arg-type]
