"""What the delivery engine moves: vendor-shaped requests derived from change events."""

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cdc_sync.events import ChangeEvent, SourcePosition

Method = Literal["GET", "PUT", "POST", "DELETE", "PATCH"]
Failure = Literal["timeout", "network"]


class Action(StrEnum):
    OK = "ok"
    RETRY = "retry"  # back off with jitter; counts as a compensation attempt
    RETRY_AFTER = "retry_after"  # the vendor said when; does not count against the destination
    DEAD_LETTER = "dead_letter"
    # The vendor refused our credential: no delivery can succeed, so the destination pauses
    # (severe alert) and its deliveries are held instead of each becoming a dead letter.
    PAUSE = "pause"


class BatchForm(BaseModel):
    """The same change as one item of the vendor's batch API: requests whose `group` is equal
    may share one call (e.g. the users of one upsert job, the members added to one segment)."""

    model_config = ConfigDict(frozen=True)

    group: str
    item: dict[str, Any]


class Correction(BaseModel):
    """What a correcting request corrects: the CRM row and field, the value the CRM wants, and
    why (the row's `<field>_correction`)."""

    model_config = ConfigDict(frozen=True)

    table: str  # unqualified, as conflicts name tables
    row_id: int
    field: str
    crm_value: Any
    reason: str


class VendorRequest(BaseModel):
    """One HTTP call in the vendor's own API shape (paths relative to the destination's base URL)."""

    model_config = ConfigDict(frozen=True)

    method: Method
    path: str
    body: dict[str, Any] | None = None
    # A 404 means "nothing to do" (e.g. removing a tag from a member that never existed).
    not_found_ok: bool = False
    batch: BatchForm | None = None  # None: this call has no consent-safe batch form
    # A CRM correction of a field the vendor owns: the vendor's 409 then means "changed
    # meanwhile" and becomes a conflict to review, not a dead letter.
    correction: Correction | None = None
    # Requests with the same merge key carry the object's whole state for that target, so a
    # later one queued right behind makes an earlier one pointless (latest wins).
    merge_key: str | None = None


class Delivery(BaseModel):
    """One request for one destination, ordered with the others of the same entity."""

    model_config = ConfigDict(frozen=True)

    destination: str
    entity: str
    table: str
    operation: str
    request: VendorRequest
    idempotency_key: str
    source: SourcePosition


@dataclass(frozen=True)
class Outcome:
    """How a request went, as the policy sees it; adapters translate httpx into this."""

    status: int | None
    latency_s: float
    body: str = ""
    failure: Failure | None = None
    retry_after_s: float | None = None
    vendor_ref: str | None = None  # the vendor's own id of the object, when its answer names it

    @property
    def summary(self) -> str:
        if self.failure is not None:
            return f"{self.failure} after {self.latency_s:.3f}s"
        return f"HTTP {self.status}: {self.body[:500]}"


def supersedes(later: Delivery, earlier: Delivery) -> bool:
    """Whether `later`, queued right behind `earlier` for the same object, makes it pointless."""
    key = earlier.request.merge_key
    return key is not None and key == later.request.merge_key and later.operation == earlier.operation


def idempotency_key(event: ChangeEvent, destination: str, operation: str) -> str:
    """Stable across re-reads of the same change: table + primary key + LSN (not the offset)."""
    identity = json.dumps(
        [event.table, event.key, event.source.lsn, event.op, destination, operation],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


def delivery_for(
    event: ChangeEvent, destination: str, entity: str, operation: str, request: VendorRequest
) -> Delivery:
    return Delivery(
        destination=destination,
        entity=entity,
        table=event.table,
        operation=operation,
        request=request,
        idempotency_key=idempotency_key(event, destination, operation),
        source=event.source,
    )
