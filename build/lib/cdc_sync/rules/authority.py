"""Who owns which field: the authority table from the config, as a pure lookup.

Rules are `"table.field"`, `"table.*"` and `"*"` (most specific wins). The outbound side
sends a destination only fields the CRM owns (or shares), never one the destination owns —
except a correction: a field listed in `corrections` with the reasons in scope, which a CRM
change with such a reason in `<field>_correction` pushes to its owner (who may still refuse it).
"""

from collections.abc import Mapping, Sequence
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


def correction_reason_column(field: str) -> str:
    """The CRM column that says why a correction was made (`priority` → `priority_correction`)."""
    return f"{field}_correction"


def correctable(
    rules: Mapping[str, Owner], corrections: Mapping[str, Sequence[str]], table: str, system: str
) -> dict[str, frozenset[str]]:
    """Fields of `table` that `system` owns and the CRM may correct: field → reasons in scope."""
    name = table.rpartition(".")[2]
    found: dict[str, frozenset[str]] = {}
    for key, reasons in corrections.items():
        rule_table, _, field = key.partition(".")
        if rule_table == name and owner_of(rules, table, field) == system:
            found[field] = frozenset(reasons)
    return found


def corrected_fields(
    scope: Mapping[str, frozenset[str]], before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The correctable fields a CRM update changes with a reason in scope (their new values)."""
    if not scope or before is None or after is None:
        return {}
    return {
        field: after.get(field)
        for field, reasons in scope.items()
        if after.get(field) != before.get(field) and after.get(correction_reason_column(field)) in reasons
    }


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
