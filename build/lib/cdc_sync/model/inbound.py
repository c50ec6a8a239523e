"""One vendor event as the inbox stores it, whatever vendor sent it (built by inbound.payloads)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from cdc_sync.model.storable import check_storable

MAX_REASON = 400


def utc(value: datetime) -> datetime:
    """Aware → UTC; naive (a vendor's zone-less timestamp) is UTC by that vendor's definition."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00; pydantic reports ValueError only
        raise ValueError("timestamp is out of range in UTC") from None


Instant = Annotated[AwareDatetime, AfterValidator(utc)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
# Whatever the inbox stores: PostgreSQL refuses NUL and lone surrogates, so they are a 422 here.
StoredText = Annotated[str, AfterValidator(check_storable)]
StoredData = Annotated[dict[str, Any], AfterValidator(check_storable)]


URGENT, NORMAL, DEFERRABLE = 0, 1, 2


class InboundEvent(BaseModel):
    """One vendor event, normalized. `entity` is the ordering key: the writer applies events with the
    same entity one at a time, in order. Every string in it can be stored (`StoredText`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: StoredText
    event_id: Annotated[Id, AfterValidator(check_storable)]
    kind: StoredText
    entity: StoredText
    occurred_at: Instant
    data: StoredData
    # When the writer is behind, lower first (0 urgent, 1 normal, 2 can wait); ties in receipt order.
    priority: int = Field(default=NORMAL, ge=0, le=9)


def readable(exc: ValidationError) -> str:
    """A validation failure in one line: each problem's place and message, no input values."""
    problems = [
        f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)[:MAX_REASON]
