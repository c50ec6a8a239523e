"""Contact fields in the one form every vendor API accepts.

A value that can never be sent (a malformed email, an impossible CSAT score) raises
`RejectedEvent` so the event is dead-lettered with a reason an operator can act on. A value
that is merely unusable (an unknown country, a bogus timezone) becomes None and the field is
left out; a phone number that cannot be formatted is kept as typed and flagged instead.

The normalizers are pure, so the costly ones remember recent results by value (a bounded
`lru_cache`): a contact's address and number come back unchanged with each of its changes,
and checking them again (30 µs each) would give the same answer, rejection included.
"""

import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Literal

import langcodes
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from cdc_sync.errors import RejectedEvent

PHONE_UNFORMATTED_TAG = "phone_unformatted"
MAX_TAG_LENGTH = 100

# Contacts whose address and number stay remembered: about 0.75 KB each, 12 MB when full.
VALUES_REMEMBERED = 16_384
# Spellings of a country, locale or timezone: there are only so many.
SPELLINGS_REMEMBERED = 1_024

_TAG = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_TAG_LENGTH}}}")

# Names people type that ISO 3166 spells differently. Exact matches only: a fuzzy match could
# silently send a contact to the wrong country.
COUNTRY_ALIASES: dict[str, str] = {
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Russia": "RU",
    "Turkey": "TR",
    "Holland": "NL",
    "Macedonia": "MK",
    "Ivory Coast": "CI",
    "Vatican": "VA",
    "Palestine": "PS",
    "Swaziland": "SZ",
    "Burma": "MM",
    "Cape Verde": "CV",
    "East Timor": "TL",
    "Brunei": "BN",
    "Macau": "MO",
}

# Multiply a score on each supported scale by this to reach 0-100.
_CSAT_FACTOR: dict[int, int] = {5: 20, 100: 1}


@dataclass(frozen=True)
class PhoneResult:
    """A phone number in E.164 (`formatted`), or as typed when it could not be formatted.

    `formatted` is False exactly when the record should carry `PHONE_UNFORMATTED_TAG`; a
    missing phone (value None) has nothing to flag, so it counts as formatted.
    """

    value: str | None
    formatted: bool


@dataclass(frozen=True)
class EmailResult:
    """A normalized address, or why there is none (the reason its dead letter carries)."""

    value: str | None
    problem: str = ""

    def accepted(self) -> str:
        if self.value is None:
            raise RejectedEvent(self.problem)
        return self.value


@dataclass(frozen=True)
class TagResult:
    """Tags that may be sent, and those filtered out (to report), each once in input order."""

    kept: tuple[str, ...]
    rejected: tuple[str, ...]


def email_key(raw: object) -> str:
    """The one key addresses are matched by, everywhere (vendor payloads, lookups, batch replies):
    trimmed and lower-cased, not syntax-checked (`normalize_email` does that)."""
    return str(raw or "").strip().lower()


def normalize_email(raw: str | None) -> str:
    """Trimmed, lower-cased and syntax-checked; never looks the domain up (pure)."""
    return check_email(raw).accepted()


@lru_cache(maxsize=VALUES_REMEMBERED, typed=True)
def check_email(raw: str | None) -> EmailResult:
    """`normalize_email` as a result rather than an exception, so that a rejection is remembered too."""
    value = (raw or "").strip()
    if not value:
        return EmailResult(None, "email is missing")
    try:
        checked = validate_email(value.lower(), check_deliverability=False)
    except EmailNotValidError as exc:
        # The raw value is quoted on purpose: the operator must find the record in the CRM.
        return EmailResult(None, f"invalid email {value!r}: {exc}")
    return EmailResult(checked.normalized)


def _phone_region(region: str | None) -> str | None:
    code = (region or "").strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else normalize_country(region)


@lru_cache(maxsize=VALUES_REMEMBERED, typed=True)
def normalize_phone(raw: str | None, region: str | None) -> PhoneResult:
    """E.164, reading numbers without `+` as local to `region` (the contact's country).

    `region` is an alpha-2 code (including phonenumbers' non-ISO ones such as `XK` and `AC`)
    or any other form `normalize_country` understands. A number that cannot be parsed, is not
    valid, or has an extension (E.164 has no room for one, and dropping it would lose data) is
    kept as typed with `formatted=False`.
    """
    value = (raw or "").strip()
    if not value:
        return PhoneResult(None, formatted=True)
    try:
        number = phonenumbers.parse(value, _phone_region(region))
    except phonenumbers.NumberParseException:
        return PhoneResult(value, formatted=False)
    if number.extension or not phonenumbers.is_valid_number(number):
        return PhoneResult(value, formatted=False)
    return PhoneResult(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True)


def _country_key(name: str) -> str:
    """Case- and accent-insensitive, so "cote d'ivoire" finds "Côte d'Ivoire"."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@cache
def _countries() -> dict[str, str]:
    """Every ISO code and name of a country, keyed by `_country_key`, to its alpha-2 code."""
    index = {_country_key(alias): code for alias, code in COUNTRY_ALIASES.items()}
    for country in pycountry.countries:
        names = (country.alpha_2, country.alpha_3, country.name)
        optional = (getattr(country, "official_name", None), getattr(country, "common_name", None))
        index.update((_country_key(name), country.alpha_2) for name in (*names, *optional) if name)
    return index


@lru_cache(maxsize=SPELLINGS_REMEMBERED, typed=True)
def normalize_country(raw: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from an alpha-2 or alpha-3 code or a country's name; unknown → None."""
    return _countries().get(_country_key(raw)) if raw else None


@lru_cache(maxsize=SPELLINGS_REMEMBERED, typed=True)
def normalize_locale(raw: str | None) -> str | None:
    """A BCP 47 tag (`zh_CN` → `zh-CN`, `EN-us` → `en-US`); invalid or undetermined → None."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        language = langcodes.Language.get(value)
    except ValueError:
        return None
    # `und` (undetermined) is a valid tag but tells a vendor nothing, so it counts as missing.
    if language.language is None or not language.is_valid():
        return None
    return language.to_tag()


@cache
def _timezones() -> dict[str, str]:
    # Looking names up in this set, rather than calling ZoneInfo(raw), also keeps a raw value
    # like "../../etc/passwd" from ever reaching the filesystem.
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


@lru_cache(maxsize=SPELLINGS_REMEMBERED, typed=True)
def normalize_timezone(raw: str | None) -> str | None:
    """The IANA name in its canonical spelling (`asia/shanghai` → `Asia/Shanghai`); unknown → None."""
    return _timezones().get(raw.strip().casefold()) if raw else None


def load_reference_data() -> None:
    """Load the country, timezone and phone number tables now (about 70 ms, 2 MB).

    Otherwise the first contact of each country pays for its part (up to 11 ms at a time), in
    the middle of a stream that other work is waiting on.
    """
    _countries()
    _timezones()
    for region in phonenumbers.SUPPORTED_REGIONS:
        phonenumbers.PhoneMetadata.metadata_for_region(region)


def to_utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix; naive datetimes are taken as UTC already.

    Microseconds are written only when non-zero (Python's default), so no precision is lost.
    """
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat() + "Z"


def source_offset(value: datetime) -> str | None:
    """The UTC offset the value was recorded in, like "+01:00", kept for audit; naive → None."""
    offset = value.utcoffset()
    if offset is None:
        return None
    sign = "-" if offset.total_seconds() < 0 else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    minutes, seconds = divmod(rest, 60)
    # Historic local mean times have second offsets (Amsterdam was +00:19:32); keep them.
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def sanitize_tags(names: Iterable[str]) -> TagResult:
    """Tags of ASCII letters, digits and `-`, at most `MAX_TAG_LENGTH` long.

    Each name is trimmed first (surrounding spaces are typing noise, not part of the tag), then
    duplicates are dropped keeping the first occurrence. Case is kept: tags are labels people
    chose. Too-long tags are rejected, not cut, since two cut tags could collide.
    """
    unique = dict.fromkeys(name.strip() for name in names)
    kept = tuple(name for name in unique if _TAG.fullmatch(name))
    rejected = tuple(name for name in unique if not _TAG.fullmatch(name))
    return TagResult(kept, rejected)


def unify_csat(value: float | int, scale: Literal[5, 100]) -> int:
    """A 0-5 or 0-100 satisfaction score on the 0-100 scale, rounded half up."""
    factor = _CSAT_FACTOR.get(scale)
    if factor is None:
        raise RejectedEvent(f"unknown CSAT scale {scale!r}: expected one of {sorted(_CSAT_FACTOR)}")
    # Written so that NaN fails the check too.
    if not 0 <= value <= scale:
        raise RejectedEvent(f"CSAT {value!r} is outside the 0-{scale} scale")
    # Half up rather than Python's half-to-even: 72.5 reads as 73 to anyone checking by hand.
    return math.floor(value * factor + 0.5)


def json_safe(value: Any) -> Any:
    """A row as JSON carries it: timestamps UTC ISO 8601, dates and decimals as strings."""
    if isinstance(value, datetime):
        return to_utc_iso(value)
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value
