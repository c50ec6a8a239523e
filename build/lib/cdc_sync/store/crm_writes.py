"""Vendor writes to the CRM (SQL only, the writer's transaction): the reads handlers decide on, with
the rows locked, and the one applier of their `WritePlan`s."""

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text

from cdc_sync.model.writes import ActivityEntry, AuditEntry, Row, RowUpdate, TaskEntry, WritePlan
from cdc_sync.store import field_versions, live
from cdc_sync.store.audit import audit_many_in
from cdc_sync.store.tables import conflicts, merge_reviews, vendor_refs

# Table and column names are formatted into SQL: they come from vendor code, never from a payload,
# and must be plain lower-case identifiers of the CRM's public schema.
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_CONTACTS_BY_EMAIL = text("SELECT * FROM contacts WHERE lower(email) = :e ORDER BY id FOR UPDATE")
_MERGE_CHOICE = (
    select(merge_reviews.c.kept_contact)
    .where(merge_reviews.c.match_key == bindparam("key"), merge_reviews.c.status == "resolved")
    .order_by(merge_reviews.c.resolved_at.desc())
    .limit(1)
)
_MERGE_REVIEW = text(
    f"INSERT INTO {merge_reviews.schema}.{merge_reviews.name} (match_key, candidates, source, event_id) "
    "VALUES (:key, CAST(:candidates AS jsonb), :source, :event_id) "
    "ON CONFLICT (match_key) WHERE status = 'open' DO UPDATE SET candidates = excluded.candidates"
)
PHONE_TAIL = 8  # digits; the CRM indexes contacts by them (ops/crm/02-callcenter.sql)
_CONTACTS_BY_PHONE_TAIL = text(
    "SELECT * FROM contacts WHERE right(regexp_replace(phone, '\\D', '', 'g'), 8) = :tail "
    "ORDER BY id FOR UPDATE"
)
_VENDOR_ENTITY = select(vendor_refs.c.entity).where(
    vendor_refs.c.system == bindparam("system"), vendor_refs.c.vendor_ref == bindparam("ref")
)
_HAS_ACTIVITY = text("SELECT 1 FROM activities WHERE source = :source AND source_event_id = :event_id")
# One open task per question: a replayed or retried event does not ask it twice.
_TASK = text(
    "INSERT INTO tasks (kind, assignee_role, title, related_type, related_id, contact_id, due_at) "
    "SELECT CAST(:kind AS text), CAST(:role AS text), CAST(:title AS text), CAST(:rtype AS text), "
    "CAST(:rid AS text), CAST(:contact AS bigint), now() + interval '2 days' "
    "WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE status = 'open' AND kind = :kind "
    "AND assignee_role = :role AND related_type = :rtype AND related_id = :rid AND title = :title)"
)
_ACTIVITY = text(
    "INSERT INTO activities (contact_id, kind, source, source_event_id, campaign_id, occurred_at, details) "
    "VALUES (:contact, :kind, :source, :event_id, :campaign, :at, CAST(:details AS jsonb)) "
    "ON CONFLICT (source, source_event_id) DO NOTHING"
)
_CAMPAIGN = text(
    "INSERT INTO campaigns (name, external_id) VALUES (:x, :x) "
    "ON CONFLICT (external_id) DO UPDATE SET external_id = excluded.external_id RETURNING id"
)


class SqlCrmReads:
    """`inbound.writes.CrmReads` on the writer's connection. Rows of the tables it `updates` are
    locked as they are read; others only read (a lock needs UPDATE, which the writer's role has on
    those tables alone)."""

    def __init__(self, conn: Connection, updates: frozenset[str]) -> None:
        self._conn = conn
        self._updates = updates

    def _lock(self, table: str) -> str:
        return " FOR UPDATE" if table in self._updates else ""

    def row(self, table: str, column: str, value: Any) -> Row | None:
        _check_names(table, column)
        query = text(f"SELECT * FROM {table} WHERE {column} = :v{self._lock(table)}")
        found = self._conn.execute(query, {"v": value}).mappings().first()
        return dict(found) if found else None

    def rows(self, table: str, column: str, value: Any) -> list[Row]:
        _check_names(table, column)
        query = text(f"SELECT * FROM {table} WHERE {column} = :v ORDER BY 1{self._lock(table)}")
        return [dict(found) for found in self._conn.execute(query, {"v": value}).mappings()]

    def contacts_by_phone_tail(self, digits: str) -> list[Row]:
        found = self._conn.execute(_CONTACTS_BY_PHONE_TAIL, {"tail": digits[-PHONE_TAIL:]}).mappings()
        return [dict(row) for row in found]

    def new_id(self, table: str) -> int:
        _check_names(table)
        sequence = text("SELECT nextval(pg_get_serial_sequence(:t, 'id'))")
        return int(self._conn.execute(sequence, {"t": table}).scalar_one())

    def contacts_by_email(self, email: str) -> list[Row]:
        return [dict(row) for row in self._conn.execute(_CONTACTS_BY_EMAIL, {"e": email}).mappings()]

    def merge_choice(self, match_key: str) -> int | None:
        kept = self._conn.execute(_MERGE_CHOICE, {"key": match_key}).scalar()
        return None if kept is None else int(kept)

    def applied_times(self, table: str, key: str, fields: list[str]) -> dict[str, datetime]:
        return field_versions.applied_times(self._conn, table, key, fields)

    def has_activity(self, source: str, event_id: str) -> bool:
        found = self._conn.execute(_HAS_ACTIVITY, {"source": source, "event_id": event_id}).first()
        return found is not None

    def vendor_entity(self, system: str, vendor_ref: str) -> str | None:
        found = self._conn.execute(_VENDOR_ENTITY, {"system": system, "ref": vendor_ref}).scalar()
        return None if found is None else str(found)


def apply_plan(conn: Connection, plan: WritePlan) -> None:
    """Everything the plan says, in its order (new rows before the updates that may touch them)."""
    for new in plan.creates:
        _insert(conn, new.table, new.values)
    for change in plan.updates:
        _update(conn, change)
    _record_judgements(conn, plan)
    for task in plan.tasks:
        conn.execute(_TASK, _task_values(task))
    for activity in plan.activities:
        conn.execute(_ACTIVITY, _activity_values(conn, plan, activity))
    audit_many_in(conn, [_audit_values(plan.system, entry) for entry in plan.audits])
    for notice in plan.notices:
        live.announce(conn, notice)
    for merge in plan.merges:
        values = {"key": merge.match_key, "candidates": json.dumps(merge.candidates)}
        conn.execute(_MERGE_REVIEW, {**values, "source": plan.source, "event_id": plan.event_id})


def _record_judgements(conn: Connection, plan: WritePlan) -> None:
    """The values not taken (conflicts) and the event time of those taken (field versions)."""
    for conflict in plan.conflicts:
        row = {"table_name": conflict.table, "row_id": conflict.row_id, "field": conflict.field}
        values = {"crm_value": conflict.crm_value, "vendor_value": conflict.vendor_value}
        origin = {"source": plan.source, "event_id": plan.event_id, "reason": conflict.reason}
        conn.execute(insert(conflicts).values(**row, **values, **origin))
    for version in plan.versions:
        at, source, event_id = version.occurred_at, plan.source, plan.event_id
        field_versions.record_applied(conn, version.table, version.key, version.fields, at, source, event_id)


def _check_names(*names: str) -> None:
    for name in names:
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a CRM table or column name: {name[:80]!r}")


def _insert(conn: Connection, table: str, values: Mapping[str, Any]) -> None:
    _check_names(table, *values)
    columns = ", ".join(values)
    placeholders = ", ".join(f":{column}" for column in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"), dict(values))


def _update(conn: Connection, change: RowUpdate) -> None:
    _check_names(change.table, change.key_column, *change.values)
    assignments = ", ".join(f"{field} = :{field}" for field in change.values)
    statement = text(f"UPDATE {change.table} SET {assignments} WHERE {change.key_column} = :_key")
    conn.execute(statement, {**change.values, "_key": change.key})


def _task_values(task: TaskEntry) -> dict[str, Any]:
    related_type, _, related_id = task.related.partition(":")
    values = {"kind": task.kind, "role": task.role, "title": task.title, "contact": task.contact_id}
    return {**values, "rtype": related_type, "rid": related_id}


def _activity_values(conn: Connection, plan: WritePlan, activity: ActivityEntry) -> dict[str, Any]:
    external = activity.campaign_external_id
    campaign = None if external is None else int(conn.execute(_CAMPAIGN, {"x": external}).scalar_one())
    return {
        "contact": activity.contact_id,
        "kind": activity.kind,
        "source": plan.source,
        "event_id": plan.event_id,
        "campaign": campaign,
        "at": plan.occurred_at,
        "details": json.dumps(activity.details),
    }


def _audit_values(system: str, entry: AuditEntry) -> dict[str, Any]:
    values = {"actor": system, "action": entry.action, "object": entry.obj, "before": entry.before}
    return {**values, "after": entry.after, "details": dict(entry.details)}
