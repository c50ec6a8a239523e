"""What one vendor event does to the CRM, as data: the inbound handlers decide a `WritePlan` from
what they read, and the store's applier carries it out in the writer's transaction, in this order:
new rows, updates, conflicts, field versions, tasks, timeline entries, audit entries, live
notices (delivered by PostgreSQL only if the transaction commits), merge reviews."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["pending", "done", "conflict", "unmatched", "ambiguous", "refused", "rejected", "stale"]
"""How an inbox event ended (pending: not applied yet; ambiguous: waits in the merge queue)."""

Row = dict[str, Any]
# The CRM tables vendors write are keyed by `id`, except these.
KEY_COLUMNS = {
    "subscriptions": "contact_id",  # one row per contact
    "contact_service": "contact_id",
    "call_agents": "ext_agent_id",
    "do_not_call": "phone_e164",
}


def key_column(table: str) -> str:
    return KEY_COLUMNS.get(table, "id")


@dataclass(frozen=True)
class NewRow:
    table: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RowUpdate:
    table: str
    key_column: str
    key: Any
    values: Mapping[str, Any]


@dataclass(frozen=True)
class ConflictEntry:
    """A vendor's value the CRM did not take, for review."""

    table: str
    row_id: int
    field: str
    crm_value: Any
    vendor_value: Any
    reason: str


@dataclass(frozen=True)
class FieldVersions:
    """The vendor event's time on the fields it set (staleness of later events is judged by it)."""

    table: str
    key: str
    fields: tuple[str, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class TaskEntry:
    kind: str
    role: str
    title: str
    related: str  # "type:id"
    contact_id: Any = None


@dataclass(frozen=True)
class ActivityEntry:
    """A timeline entry, once per (source, event id) of the event."""

    kind: str
    contact_id: Any
    details: Mapping[str, Any]
    campaign_external_id: str | None = None  # the campaign is created when the CRM has none


@dataclass(frozen=True)
class AuditEntry:
    action: str
    obj: str
    before: Any
    after: Any
    details: Mapping[str, Any]


@dataclass(frozen=True)
class MergeEntry:
    """Several CRM contacts answer to one match key (`email:<address>`): a merge review."""

    match_key: str
    candidates: tuple[int, ...]


@dataclass(frozen=True)
class Notice:
    """A live message for whoever follows `channel` (`GET /events/{channel}`), sent on commit."""

    channel: str
    payload: Mapping[str, Any]


@dataclass
class WritePlan:
    """Successes and refusals of one event as data (`status`, `detail`: how it ended and why)."""

    source: str
    event_id: str
    system: str  # the vendor's system: the actor of the audit entries
    occurred_at: datetime
    status: Status = "done"
    detail: str = ""
    creates: list[NewRow] = field(default_factory=list)
    updates: list[RowUpdate] = field(default_factory=list)
    conflicts: list[ConflictEntry] = field(default_factory=list)
    versions: list[FieldVersions] = field(default_factory=list)
    tasks: list[TaskEntry] = field(default_factory=list)
    activities: list[ActivityEntry] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    merges: list[MergeEntry] = field(default_factory=list)
