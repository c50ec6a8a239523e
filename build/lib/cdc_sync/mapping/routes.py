"""What mapping works with and produces: inputs, lookups, results; shared by every vendor mapper."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cdc_sync.events import ChangeEvent, Row
from cdc_sync.mapping.normalized import NormalizedFields
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Delivery, VendorRequest, delivery_for
from cdc_sync.model.lookups import Lookups


@dataclass(frozen=True)
class MapInput:
    event: ChangeEvent
    after: Row | None  # images already filtered by authority for this destination
    before: Row | None
    lookups: Lookups
    destination: str
    config: DestinationConfig
    # Shared by all destinations of the event: each value is normalized once per event.
    normalized: NormalizedFields = field(default_factory=NormalizedFields)

    @property
    def image(self) -> Row:
        return self.after if self.after is not None else (self.before or {})

    def delivery(self, entity: str, operation: str, request: VendorRequest) -> Delivery:
        return delivery_for(self.event, self.destination, entity, operation, request)


@dataclass(frozen=True)
class Mapped:
    deliveries: tuple[Delivery, ...] = ()
    unknown_enums: tuple[str, ...] = ()  # field names whose value fell back to Other
    rejected_tags: tuple[str, ...] = ()

    def __add__(self, other: "Mapped") -> "Mapped":
        return Mapped(
            self.deliveries + other.deliveries,
            self.unknown_enums + other.unknown_enums,
            self.rejected_tags + other.rejected_tags,
        )


TableMapper = Callable[[MapInput], Mapped]
NOTHING = Mapped()


def contact_id(value: Any) -> int | None:
    return int(value) if value is not None else None
