"""Who owns which field: the authority table from the config, as a pure lookup.

Rules are `"table.field"`, `"table.*"` and `"*"` (most specific wins). The outbound side
sends a destination only fields the CRM owns (or shares), never one the destination owns.
"""

from collections.abc import Mapping
from typing import Any

from cdc_sync.model.config import Owner

_OUTBOUND_OWNERS: frozenset[str] = frozenset({"crm", "both"})


def owner_of(rules: Mapping[str, Owner], table: str, field: str) -> Owner:
    """The system of record for `table.field` (table without its schema, e.g. `contacts`)."""
    name = table.rpartition(".")[2]
    for rule in (f"{name}.{field}", f"{name}.*", "*"):
        if rule in rules:
            return rules[rule]
    raise KeyError("authority rules need a '*' default")


def outbound_fields(
    rules: Mapping[str, Owner], table: str, row: Mapping[str, Any], system: str
) -> dict[str, Any]:
    """The part of `row` that may be pushed to `system`: CRM-owned or shared, never its own."""
    return {
        field: value
        for field, value in row.items()
        if (owner := owner_of(rules, table, field)) in _OUTBOUND_OWNERS and owner != system
    }


def may_write(rules: Mapping[str, Owner], table: str, field: str, system: str) -> bool:
    """Whether `system` may write `table.field` back into the CRM (shared fields included)."""
    return owner_of(rules, table, field) in (system, "both")
