"""CRM writes on a vendor's behalf, inside the writer's transaction: authority and staleness
checked per field (rules.staleness), conflicts recorded instead of applied, stale writes skipped,
tasks and timeline entries added."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, text

from cdc_sync.config import Owner
from cdc_sync.events import entity_name
from cdc_sync.mapping.normalize import json_safe
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.rules.authority import may_write
from cdc_sync.rules.staleness import FieldWrite, crm_changed_after, judge_field, older_than_applied
from cdc_sync.store import field_versions
from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import conflicts

# Table and column names are interpolated into SQL, so they come from these sets only.
_TABLES = frozenset(
    {"tickets", "contacts", "opportunities", "subscriptions", "orders", "contracts", "campaigns"}
)
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


@dataclass(frozen=True)
class Guarded:
    """How a vendor's changes to one row ended, by field (stale ones with the reason)."""

    applied: list[str]
    conflicted: list[str]
    stale: dict[str, str]

    @classmethod
    def of(cls, judged: Mapping[str, FieldWrite]) -> "Guarded":
        def named(verdict: str) -> list[str]:
            return [name for name, write in judged.items() if write.verdict == verdict]

        stale = {name: write.reason or "" for name, write in judged.items() if write.verdict == "stale"}
        return cls(named("apply"), named("conflict"), stale)

    @property
    def all_stale(self) -> bool:
        """Everything the event said is older than what the CRM has: nothing of it is news."""
        return bool(self.stale) and not self.applied and not self.conflicted

    def refused(self, name: str) -> bool:
        return name in self.conflicted or name in self.stale


def guarded_update(
    scope: WriteScope,
    table: str,
    row: Mapping[str, Any],
    changes: Mapping[str, Any],
    check_stale: bool = True,
) -> Guarded:
    """Apply the vendor's changes it may make and that are not older than what each field has;
    record the conflicting ones for review; remember the event's time for the fields it set.
    Without `check_stale` (an opt-out wins whatever its age) only authority is checked."""
    assert table in _TABLES
    key, event = str(row[_key_of(row)]), scope.event
    applied = field_versions.applied_times(scope.conn, table, key, list(changes)) if check_stale else {}
    newer = crm_changed_after(row.get("updated_at"), row.get("sync_origin"), scope.system, event.occurred_at)
    judged = _judge(scope, table, row, changes, applied, newer if check_stale else None)
    guarded = Guarded.of(judged)
    for name in guarded.conflicted:
        _conflict(scope, table, row, name, changes[name], judged[name].reason or "")
    if guarded.applied:
        _update(scope, table, row, {name: changes[name] for name in guarded.applied})
    written = [name for name, write in judged.items() if write.records_version]
    field_versions.record_applied(
        scope.conn, table, key, written, event.occurred_at, event.source, event.event_id
    )
    return guarded


def _judge(
    scope: WriteScope,
    table: str,
    row: Mapping[str, Any],
    changes: Mapping[str, Any],
    applied: Mapping[str, datetime],
    crm_newer: str | None,
) -> dict[str, FieldWrite]:
    def not_owned(name: str) -> str | None:
        owned = may_write(scope.authority, table, name, scope.system)
        return None if owned else f"{scope.system} does not own {table}.{name}"

    at = scope.event.occurred_at
    return {
        name: judge_field(
            row.get(name),
            value,
            older=older_than_applied(at, applied.get(name)),
            not_owned=not_owned(name),
            crm_newer=crm_newer,
        )
        for name, value in changes.items()
    }


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
