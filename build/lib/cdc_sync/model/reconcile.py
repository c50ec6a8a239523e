"""One object as reconciliation compares it, whoever holds it (the CRM's expectation or the vendor)."""

from typing import Any

from pydantic import BaseModel, ConfigDict

from cdc_sync.mapping.pii import mask_for_log


class Record(BaseModel):
    """One object as compared: its key at the vendor and the fields cdc-sync sends it."""

    model_config = ConfigDict(frozen=True)

    key: str  # the vendor's key of it (e.g. a subscriber hash, or the CRM contact id)
    fields: dict[str, Any]
    contacts: tuple[int, ...] = ()  # the CRM contacts behind an expected record
    label: str = ""  # how an operator finds a vendor record, personal data masked


def contact_of(entity: str) -> int:
    """`contact:42` → 42 (mappers name every delivery after its contact)."""
    return int(entity.rpartition(":")[2])


def masked(value: Any) -> str:
    """A value for a record's label, personal data masked."""
    return mask_for_log(str(value)) if value else "?"
