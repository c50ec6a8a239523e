"""One event's contact values, each normalized once however many destinations map the event.

Planning feeds the same change to every destination of its table; without this, each vendor
mapper would check the same address and format the same number again (30 µs apiece).
"""

from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from cdc_sync.mapping.enums import EnumKind, EnumResult, map_enum
from cdc_sync.mapping.normalize import (
    PhoneResult,
    check_email,
    normalize_country,
    normalize_locale,
    normalize_phone,
    normalize_timezone,
)

Raw = TypeVar("Raw", bound=Hashable)
Value = TypeVar("Value")


class NormalizedFields:
    """Normalized values computed on first use and kept for the event's other destinations.

    Keyed by the raw value rather than the field name: authority filters each destination's
    images separately, and the old image's address is normalized as well as the new one's.
    Create one per event; it holds no state beyond that event.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[Callable[..., object], Hashable], object] = {}

    def email(self, raw: str | None) -> str:
        """`normalize_email`: the address, or `RejectedEvent` with the reason."""
        return self._once(check_email, raw).accepted()

    def country(self, raw: str | None) -> str | None:
        return self._once(normalize_country, raw)

    def phone(self, raw: str | None, country: str | None) -> PhoneResult:
        """The number read as local to the contact's country as typed (`country` is the raw value)."""
        return self._once(_phone_in, (raw, self.country(country)))

    def locale(self, raw: str | None) -> str | None:
        return self._once(normalize_locale, raw)

    def timezone(self, raw: str | None) -> str | None:
        return self._once(normalize_timezone, raw)

    def lifecycle_stage(self, raw: str | None) -> EnumResult:
        return self._once(_lifecycle_stage, raw)

    def _once(self, normalizer: Callable[[Raw], Value], raw: Raw) -> Value:
        key = (normalizer, raw)
        if key not in self._seen:
            self._seen[key] = normalizer(raw)
        return cast(Value, self._seen[key])


def _phone_in(number_and_region: tuple[str | None, str | None]) -> PhoneResult:
    return normalize_phone(*number_and_region)


def _lifecycle_stage(raw: str | None) -> EnumResult:
    return map_enum(EnumKind.LIFECYCLE_STAGE, raw)
