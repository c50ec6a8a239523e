"""Free text made safe to send, and personal values made safe to log.

`mask_pii` hides payment card numbers and national ID numbers that agents or customers pasted
into notes and ticket bodies. Every masked number keeps its layout and its last four
characters (`4111 1111 1111 1111` → `**** **** **** 1111`, `123-45-6789` → `***-**-6789`), so
a support agent can still tell which card or ID was meant.

Email addresses in free text are deliberately left alone: they are business data (who to
reply to, who was copied) and the vendors receive the contact's email as a field anyway.
"""

import re
from collections.abc import Callable, Iterator

ELLIPSIS = "…"
CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19

_LINE_BREAKS = re.compile(r"\r\n?")
# C0 and C1 control characters except \t and \n (\r was turned into \n first), and lone
# surrogates, which cannot be encoded as UTF-8 and would break the request to the vendor.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# Digit groups joined by single spaces or dashes: one candidate stretch for card numbers.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
# Every character of a number that still has four or more characters after it.
_HIDDEN = re.compile(r"\w(?=(?:\W*\w){4})")

_US_SSN = re.compile(r"(?<!\d)(?<!\d-)\d{3}-\d{2}-\d{4}(?!-?\d)")
# Chinese resident ID: region (6), birth date YYYYMMDD (8), sequence (3), check character.
_CN_RESIDENT_ID = re.compile(
    r"(?<!\d)\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
)
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"
# Luhn: every second digit from the right is doubled, and a two-digit result summed up.
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

_EMAIL_LIKE = re.compile(r"(?P<local>[^@]+)@(?P<domain>[^@]+)")
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")
_MIN_PHONE_DIGITS = 5


def _keep_last_four(number: str) -> str:
    return _HIDDEN.sub("*", number)


def _luhn_valid(digits: str) -> bool:
    """Whether a string of decimal digits passes the Luhn checksum every card number carries."""
    weighed = (
        _LUHN_DOUBLED[int(digit)] if position % 2 else int(digit)
        for position, digit in enumerate(reversed(digits))
    )
    return sum(weighed) % 10 == 0


def _cn_id_valid(number: str) -> bool:
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11] == number[17].upper()


def _longest_card_from(groups: list[re.Match[str]], first: int) -> int | None:
    """Index of the last group of the longest Luhn-valid card starting at group `first`."""
    digits, last_valid = "", None
    for last in range(first, len(groups)):
        digits += groups[last].group()
        if len(digits) > CARD_MAX_DIGITS:
            break
        if len(digits) >= CARD_MIN_DIGITS and _luhn_valid(digits):
            last_valid = last
    return last_valid


def _card_spans(run: str) -> Iterator[tuple[int, int]]:
    """Cards inside a run of digit groups, aligned to its groups.

    Aligning to groups catches a card followed by more digits ("4111 1111 1111 1111 123") without
    treating a slice of one long reference number as a card.
    """
    groups = list(_DIGIT_GROUP.finditer(run))
    first = 0
    while first < len(groups):
        last = _longest_card_from(groups, first)
        if last is None:
            first += 1
            continue
        yield groups[first].start(), groups[last].end()
        first = last + 1


def _mask_cards_in_run(match: re.Match[str]) -> str:
    run = match.group()
    # Masking keeps the length, so the spans found on the original run stay right.
    for start, end in _card_spans(run):
        run = run[:start] + _keep_last_four(run[start:end]) + run[end:]
    return run


def _mask_cards(text: str) -> str:
    # The four digits a mask keeps can form a new Luhn-valid number with the digits after
    # them; repeat until nothing changes so no card-like number is ever left. Each pass hides
    # digits, so this ends.
    while (masked := _DIGIT_RUN.sub(_mask_cards_in_run, text)) != text:
        text = masked
    return text


def _masker(pattern: re.Pattern[str], is_valid: Callable[[str], bool]) -> Callable[[str], str]:
    def mask(match: re.Match[str]) -> str:
        number = match.group()
        return _keep_last_four(number) if is_valid(number) else number

    return lambda text: pattern.sub(mask, text)


# National IDs go first: an 18-digit ID may also pass Luhn, and its own rule is the precise one.
# Chinese IDs need a valid check character, since an 18-digit order number is not personal
# data; an SSN has no checksum, and its dashed layout is telling enough.
_MASKERS: tuple[Callable[[str], str], ...] = (
    _masker(_US_SSN, lambda _: True),
    _masker(_CN_RESIDENT_ID, _cn_id_valid),
    _mask_cards,
)


def mask_pii(text: str) -> str:
    """Card numbers, US SSNs and Chinese resident IDs, masked but for their last four characters.

    A card number is 13-19 digits, grouped or not by single spaces or dashes, that passes the
    Luhn check. An SSN must be written `123-45-6789` (nine bare digits are too ambiguous to
    touch); a Chinese ID needs a plausible birth date and a valid check character.
    """
    for mask in _MASKERS:
        text = mask(text)
    return text


def clean_text(raw: str | None, max_length: int = 2000) -> str | None:
    """Free text without control characters or PII, trimmed and at most `max_length` long.

    Line breaks become `\\n`; tabs stay. Text that is cut ends in `…`, counted in the length.
    Blank text becomes None, like missing text.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    if raw is None:
        return None
    # Control characters go before masking so none can hide a card number from it, and
    # masking comes before cutting so a cut can never leave the visible part of a number.
    text = mask_pii(_UNPRINTABLE.sub("", _LINE_BREAKS.sub("\n", raw))).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + ELLIPSIS
    return text or None


def mask_for_log(value: str) -> str:
    """A personal value as it may appear in logs.

    Emails keep their first character and domain (`j***@example.com`), phone numbers their last
    two digits (`***67`), anything else its first character (`J***`).
    """
    value = value.strip()
    if email := _EMAIL_LIKE.fullmatch(value):
        return f"{email['local'][0]}***@{email['domain']}"
    digits = [char for char in value if char.isdecimal()]
    if _PHONE_LIKE.fullmatch(value) and len(digits) >= _MIN_PHONE_DIGITS:
        return "***" + "".join(digits[-2:])
    return value[:1] + "***"
