"""Free text reaches vendors without control characters or card and ID numbers; logs see no PII."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.mapping.pii import ELLIPSIS, clean_text, mask_for_log, mask_pii

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        doubled = int(char) * (2 if position % 2 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def card_like_numbers(text: str) -> list[str]:
    """Luhn-valid 13-19 digit numbers made of whole digit groups joined by a space or a dash."""
    found = []
    for run in DIGIT_RUN.findall(text):
        groups = re.findall(r"\d+", run)
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                digits = "".join(groups[first : last + 1])
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    found.append(digits)
    return found


# --- mask_pii ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 thanks", "card **** **** **** 1111 thanks"),
        ("card 4111-1111-1111-1111.", "card ****-****-****-1111."),
        ("card 4111111111111111", "card ************1111"),
        ("amex 378282246310005", "amex ***********0005"),
        # The card is found even with the CVC written right after it.
        ("4111 1111 1111 1111 123", "**** **** **** 1111 123"),
    ],
)
def test_card_numbers_are_masked_but_for_the_last_four_digits(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112",  # fails the Luhn check
        "ref 41111111111111111111111",  # part of a longer number
        "call +49 30 1234 5678",
        "invoice 2026-03-01",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_national_ids_are_masked_but_for_the_last_four_characters() -> None:
    assert mask_pii("SSN: 123-45-6789.") == "SSN: ***-**-6789."
    assert mask_pii("身份证 11010519491231002X") == "身份证 **************002X"
    assert mask_pii("id 11010519491231002x") == "id **************002x"


def test_id_shaped_numbers_with_a_wrong_check_character_are_left_alone() -> None:
    assert mask_pii("order 110105194912310021") == "order 110105194912310021"
    assert mask_pii("part 123-45-6789-01") == "part 123-45-6789-01"


def test_emails_in_free_text_are_business_data_and_stay() -> None:
    assert mask_pii("cc jane.doe@example.com please") == "cc jane.doe@example.com please"


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=12, max_size=18))
    check = next(digit for digit in "0123456789" if luhn_valid(body + digit))
    number = body + check
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


text_with_numbers = st.lists(
    card_numbers() | st.text(alphabet="0123456789 -", max_size=30) | st.text(max_size=10)
).map("".join)


@given(text_with_numbers)
def test_no_card_like_number_survives_masking(text: str) -> None:
    assert card_like_numbers(mask_pii(text)) == []


@given(text_with_numbers)
def test_masking_keeps_the_text_layout(text: str) -> None:
    masked = mask_pii(text)
    assert len(masked) == len(text)
    assert all(after in (before, "*") for before, after in zip(text, masked, strict=True))
    assert all(
        before.isdecimal() or before in "Xx"
        for before, after in zip(text, masked, strict=True)
        if before != after
    )


# --- clean_text ----------------------------------------------------------------------------


def test_control_characters_go_and_line_breaks_become_newlines() -> None:
    assert (
        clean_text("  Hello\x00 there\r\nsecond\rthird\tcol\x1b[0m \x85 ")
        == "Hello there\nsecond\nthird\tcol[0m"
    )


def test_long_text_is_cut_with_an_ellipsis_within_the_limit() -> None:
    assert clean_text("abcdefghij", max_length=5) == "abcd" + ELLIPSIS
    assert clean_text("abc  defgh", max_length=6) == "abc" + ELLIPSIS
    assert clean_text("abcde", max_length=5) == "abcde"


def test_pii_is_masked_before_the_cut_so_no_digits_leak() -> None:
    assert clean_text("4111 1111 1111 1111", max_length=10) == "**** ****" + ELLIPSIS


@pytest.mark.parametrize("raw", [None, "", " \n\t ", "\x00\x01"])
def test_blank_text_is_none(raw: str | None) -> None:
    assert clean_text(raw) is None


def test_max_length_must_leave_room_for_text() -> None:
    with pytest.raises(ValueError, match="max_length"):
        clean_text("x", max_length=0)


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_clean_text_has_no_control_characters_and_respects_the_limit(raw: str, max_length: int) -> None:
    cleaned = clean_text(raw, max_length)
    if cleaned is not None:
        assert not CONTROL.search(cleaned)
        assert "\r" not in cleaned
        assert 0 < len(cleaned) <= max_length
        cleaned.encode("utf-8")  # no lone surrogates: the text can always be sent


# --- mask_for_log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("+49 30 1234 5667", "***67"),
        ("(650) 253-0000", "***00"),
        ("Jane Doe", "J***"),
        ("12", "1***"),  # too short to be a phone number
        ("", "***"),
    ],
)
def test_personal_values_are_masked_for_logs(value: str, expected: str) -> None:
    assert mask_for_log(value) == expected
