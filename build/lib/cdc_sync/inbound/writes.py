"""The decisions behind CRM writes on a vendor's behalf, pure: authority and staleness checked per
field (rules.staleness), conflicts recorded instead of applied, stale writes skipped, tasks and
timeline entries added — all into the event's `WritePlan`, which the store applies afterwards.

Handlers read the CRM through `CrmReads` (rows locked for the writer's transaction); in tests a
dict-backed fake stands in for it."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cdc_sync.events import entity_name
from cdc_sync.mapping.normalize import json_safe
from cdc_sync.model.config import Owner
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.writes import (
    ActivityEntry,
    AuditEntry,
    ConflictEntry,
    FieldVersions,
    MergeEntry,
    NewRow,
    Notice,
    Row,
    RowUpdate,
    Status,
    TaskEntry,
    WritePlan,
    key_column,
)
from cdc_sync.rules.authority import may_write
from cdc_sync.rules.staleness import FieldWrite, crm_changed_after, judge_field, older_than_applied


class CrmReads(Protocol):
    def row(self, table: str, column: str, value: Any) -> Row | None:
        """The row whose `column` is `value`, locked until the writer's transaction ends."""

    def rows(self, table: str, column: str, value: Any) -> list[Row]:
        """Every row whose `column` is `value`, locked, oldest id first."""

    def contacts_by_email(self, email: str) -> list[Row]:
        """Every contact with this address (any case), locked, oldest id first."""

    def merge_choice(self, match_key: str) -> int | None:
        """The contact an operator said `match_key` means (the latest resolved merge review)."""

    def contacts_by_phone_tail(self, digits: str) -> list[Row]:
        """Contacts whose phone ends in these digits once formatting is stripped (candidates only:
        the caller decides on the whole number)."""

    def new_id(self, table: str) -> int:
        """An id for a row the plan creates, so later entries of the plan can refer to it."""

    def applied_times(self, table: str, key: str, fields: list[str]) -> dict[str, datetime]:
        """field → the time of the newest vendor event applied to it."""

    def has_activity(self, source: str, event_id: str) -> bool:
        """A timeline entry for this event is already there."""

    def vendor_entity(self, system: str, vendor_ref: str) -> str | None:
        """The CRM object ("table:key") that `system` knows by `vendor_ref`, as its answers to
        cdc-sync's deliveries named it; None when it never answered one."""


@dataclass(frozen=True)
class Applied:
    status: Status
    detail: str


@dataclass(frozen=True)
class WriteScope:
    reads: CrmReads
    event: InboundEvent
    system: str
    authority: Mapping[str, Owner]
    plan: WritePlan

    @classmethod
    def of(
        cls, reads: CrmReads, event: InboundEvent, system: str, authority: Mapping[str, Owner]
    ) -> "WriteScope":
        plan = WritePlan(event.source, event.event_id, system, event.occurred_at)
        return cls(reads, event, system, authority, plan)


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
    scope: WriteScope, table: str, row: Row, changes: Mapping[str, Any], check_stale: bool = True
) -> Guarded:
    """Apply the vendor's changes it may make and that are not older than what each field has;
    record the conflicting ones for review; remember the event's time for the fields it set.
    Without `check_stale` (an opt-out wins whatever its age) only authority is checked."""
    key, event = str(row[key_column(table)]), scope.event
    applied = scope.reads.applied_times(table, key, list(changes)) if check_stale else {}
    newer = crm_changed_after(row.get("updated_at"), row.get("sync_origin"), scope.system, event.occurred_at)
    judged = _judge(scope, table, row, changes, applied, newer if check_stale else None)
    guarded = Guarded.of(judged)
    for name in guarded.conflicted:
        _conflict(scope, table, row, name, changes[name], judged[name].reason or "")
    if guarded.applied:
        update(scope, table, row, {name: changes[name] for name in guarded.applied})
    written = tuple(name for name, write in judged.items() if write.records_version)
    if written:
        scope.plan.versions.append(FieldVersions(table, key, written, event.occurred_at))
    return guarded


def _judge(
    scope: WriteScope,
    table: str,
    row: Row,
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


def _conflict(scope: WriteScope, table: str, row: Row, field: str, value: Any, reason: str) -> None:
    row_id = int(row[key_column(table)])
    entry = ConflictEntry(table, row_id, field, json_safe(row.get(field)), json_safe(value), reason)
    scope.plan.conflicts.append(entry)


def update(scope: WriteScope, table: str, row: Row, values: Mapping[str, Any]) -> None:
    """Set `values` on the row (audited); callers judge authority first (`guarded_update`)."""
    key = key_column(table)
    scope.plan.updates.append(RowUpdate(table, key, row[key], dict(values)))
    _audit(scope, "update", table, row, values)


def _audit(scope: WriteScope, verb: str, table: str, row: Row, values: Mapping[str, Any]) -> None:
    """Every vendor write to the CRM, new rows too; consent changes under the contact's name."""
    consent = table == "subscriptions"
    obj = f"contact:{row['contact_id']}" if consent else entity_name(table, [row[key_column(table)]])
    before = None if verb == "create" else json_safe({field: row.get(field) for field in values})
    details = {"source": scope.event.source, "event_id": scope.event.event_id, "table": table}
    action = "subscription.change" if consent else f"crm.{verb}"
    scope.plan.audits.append(AuditEntry(action, obj, before, json_safe(dict(values)), details))


def create(scope: WriteScope, table: str, values: Mapping[str, Any]) -> Row:
    """A new row, as the handler may go on to judge it: the trigger marks it as the vendor's. The
    event's time goes onto every field it set, so an older event of the object that comes later
    (a backfilled snapshot, a late retry) is stale for them, as after an update."""
    key = key_column(table)
    row = dict(values) if key in values else {key: scope.reads.new_id(table), **values}
    scope.plan.creates.append(NewRow(table, row))
    scope.plan.versions.append(FieldVersions(table, str(row[key]), tuple(values), scope.event.occurred_at))
    _audit(scope, "create", table, row, row)
    return {**row, "sync_origin": scope.system, "updated_at": None}


def contact_by_email(scope: WriteScope, email: str) -> Row | Applied:
    """The one contact a vendor's email names — or how the event ends instead: `unmatched` for
    none, `ambiguous` for several (never a silent pick: a merge review asks which one is meant,
    and the event waits for the answer, unless an earlier review already gave it)."""
    found = scope.reads.contacts_by_email(email)
    if len(found) == 1:
        return found[0]
    if not found:
        return Applied("unmatched", f"no CRM contact with email {email}")
    key = f"email:{email}"
    kept = scope.reads.merge_choice(key)
    chosen = [row for row in found if row["id"] == kept]
    if chosen:
        return chosen[0]
    scope.plan.merges.append(MergeEntry(key, tuple(sorted(int(row["id"]) for row in found))))
    return Applied("ambiguous", f"{len(found)} CRM contacts with email {email}: waiting for a merge review")


def add_task(
    scope: WriteScope, kind: str, role: str, title: str, related: str, contact_id: Any = None
) -> None:
    scope.plan.tasks.append(TaskEntry(kind, role, title, related, contact_id))


def add_activity(
    scope: WriteScope, kind: str, contact_id: Any, details: Mapping[str, Any], campaign_id: str | None = None
) -> bool:
    """A timeline entry, once per (source, event id); False if it was already there."""
    if scope.reads.has_activity(scope.event.source, scope.event.event_id):
        return False
    scope.plan.activities.append(ActivityEntry(kind, contact_id, json_safe(dict(details)), campaign_id))
    return True


def add_notice(scope: WriteScope, channel: str, payload: Mapping[str, Any]) -> None:
    """A live message for the followers of `channel`, sent once the event's writes commit."""
    scope.plan.notices.append(Notice(channel, json_safe(dict(payload))))


def outcome(guarded: Guarded, detail: str) -> Applied:
    if guarded.conflicted:
        return Applied(
            "conflict", f"{detail}; not applied, in the review queue: {', '.join(guarded.conflicted)}"
        )
    if guarded.stale:
        older = "; ".join(f"{name}: {reason}" for name, reason in guarded.stale.items())
        return Applied("stale", f"{detail}; not applied, the CRM has newer: {older}")
    return Applied("done", detail)
