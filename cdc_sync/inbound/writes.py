"""CRM writes on a vendor's behalf, inside the writer's transaction: authority and staleness
checked per field, conflicts recorded instead of applied, tasks and timeline entries added."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, text

from cdc_sync.config import Owner
from cdc_sync.events import entity_name
from cdc_sync.inbound.payloads import InboundEvent
from cdc_sync.mapping.normalize import json_safe
from cdc_sync.rules.authority import may_write
from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import conflicts

# Table and column names are interpolated into SQL, so they come from these sets only.
_TABLES = frozenset(
    {"tickets", "contacts", "opportunities", "subscriptions", "orders", "contracts", "campaigns"}
)
# Vendors stamp events to the second and their clocks drift: a CRM change within this much of the
# vendor's event is not taken as newer than it.
CLOCK_ALLOWANCE = timedelta(seconds=2)
_KEYS = frozenset({"id", "external_id", "contact_id", "order_no", "contract_no"})


@dataclass(frozen=True)
class WriteScope:
    conn: Connection
    event: InboundEvent
    system: str
    authority: Mapping[str, Owner]


def row_by(scope: WriteScope, table: str, column: str, value: Any) -> dict[str, Any] | None:
    """The row, locked for this transaction (the writer decides on what it read)."""
    assert table in _TABLES and column in _KEYS
    found = (
        scope.conn.execute(text(f"SELECT * FROM {table} WHERE {column} = :v FOR UPDATE"), {"v": value})
        .mappings()
        .first()
    )
    return dict(found) if found else None


def _conflict(
    scope: WriteScope, table: str, row: Mapping[str, Any], field: str, value: Any, reason: str
) -> None:
    scope.conn.execute(
        insert(conflicts).values(
            source=scope.event.source,
            event_id=scope.event.event_id,
            table_name=table,
            row_id=int(row[_key_of(row)]),
            field=field,
            crm_value=json_safe(row.get(field)),
            vendor_value=json_safe(value),
            reason=reason,
        )
    )


def _stale(scope: WriteScope, row: Mapping[str, Any]) -> str | None:
    """The CRM changed the row after the vendor's event, and not on this vendor's behalf."""
    changed: datetime | None = row.get("updated_at")
    if changed is None or changed <= scope.event.occurred_at + CLOCK_ALLOWANCE:
        return None
    if row.get("sync_origin") != scope.system:
        vendor_at = scope.event.occurred_at.isoformat()
        return f"CRM changed the row at {changed.isoformat()} after the vendor's event at {vendor_at}"
    return None


def guarded_update(
    scope: WriteScope,
    table: str,
    row: Mapping[str, Any],
    changes: Mapping[str, Any],
    check_stale: bool = True,
) -> list[str]:
    """Apply the vendor's changes it may make; record the rest as conflicts. Returns conflicted fields."""
    assert table in _TABLES
    stale = _stale(scope, row) if check_stale else None
    allowed: dict[str, Any] = {}
    conflicted: list[str] = []
    for field, value in changes.items():
        if row.get(field) == value:
            continue
        reason = (
            None
            if may_write(scope.authority, table, field, scope.system)
            else (f"{scope.system} does not own {table}.{field}")
        )
        reason = reason or stale
        if reason:
            _conflict(scope, table, row, field, value, reason)
            conflicted.append(field)
        else:
            allowed[field] = value
    if allowed:
        _update(scope, table, row, allowed)
    return conflicted


def _key_of(row: Mapping[str, Any]) -> str:
    """The written tables are keyed by `id`, except the one row per contact of `subscriptions`."""
    return "id" if "id" in row else "contact_id"


def _update(scope: WriteScope, table: str, row: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    key = _key_of(row)
    assignments = ", ".join(f"{field} = :{field}" for field in values)
    scope.conn.execute(
        text(f"UPDATE {table} SET {assignments} WHERE {key} = :_key"), {**values, "_key": row[key]}
    )
    _audit(scope, table, row, values)


def _audit(scope: WriteScope, table: str, row: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Every vendor write to the CRM, in its transaction; consent changes under the contact's name."""
    consent = table == "subscriptions"
    obj = f"contact:{row['contact_id']}" if consent else entity_name(table, [row[_key_of(row)]])
    before = json_safe({field: row.get(field) for field in values})
    details = {"source": scope.event.source, "event_id": scope.event.event_id, "table": table}
    action = "subscription.change" if consent else "crm.update"
    audit_in(scope.conn, scope.system, action, obj, before, json_safe(dict(values)), details)


def add_task(
    scope: WriteScope, kind: str, role: str, title: str, related: str, contact_id: Any = None
) -> None:
    related_type, _, related_id = related.partition(":")
    scope.conn.execute(
        text(
            "INSERT INTO tasks (kind, assignee_role, title, related_type, related_id, contact_id, due_at) "
            "VALUES (:kind, :role, :title, :rtype, :rid, :contact, now() + interval '2 days')"
        ),
        {
            "kind": kind,
            "role": role,
            "title": title,
            "rtype": related_type,
            "rid": related_id,
            "contact": contact_id,
        },
    )


def add_activity(
    scope: WriteScope, kind: str, contact_id: Any, details: Mapping[str, Any], campaign_id: Any = None
) -> bool:
    """A timeline entry, once per (source, event id); False if it was already there."""
    inserted = scope.conn.execute(
        text(
            "INSERT INTO activities "
            "(contact_id, kind, source, source_event_id, campaign_id, occurred_at, details) "
            "VALUES (:contact, :kind, :source, :event_id, :campaign, :at, CAST(:details AS jsonb)) "
            "ON CONFLICT (source, source_event_id) DO NOTHING RETURNING id"
        ),
        {
            "contact": contact_id,
            "kind": kind,
            "source": scope.event.source,
            "event_id": scope.event.event_id,
            "campaign": campaign_id,
            "at": scope.event.occurred_at,
            "details": json.dumps(json_safe(dict(details))),
        },
    ).first()
    return inserted is not None
