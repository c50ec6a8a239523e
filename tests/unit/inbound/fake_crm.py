"""An in-memory `CrmReads` for handler tests: rows by table, field versions, recorded activities."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cdc_sync.inbound.handlers import plan_write
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.writes import Row, WritePlan

AUTHORITY = {
    "*": "crm",
    "contacts.csat_last": "helpdesk",
    "contacts.health_score": "crm",
    "subscriptions.status": "both",
    "subscriptions.consent_timestamp": "both",
    "subscriptions.consent_source": "both",
    "subscriptions.unsubscribed_at": "both",
    "tickets.status": "helpdesk",
    "tickets.priority": "helpdesk",
    "tickets.csat": "helpdesk",
    "tickets.channel": "helpdesk",
    "opportunities.collection_progress": "erp",
    "opportunities.billing_status": "erp",
}
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@dataclass
class FakeCrm:
    tables: dict[str, list[Row]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    activities: set[tuple[str, str]] = field(default_factory=set)

    def row(self, table: str, column: str, value: Any) -> Row | None:
        return next((dict(r) for r in self.tables.get(table, []) if r.get(column) == value), None)

    def contact_by_email(self, email: str) -> Row | None:
        found = [r for r in self.tables.get("contacts", []) if str(r.get("email", "")).lower() == email]
        return dict(max(found, key=lambda r: r["updated_at"])) if found else None

    def applied_times(self, table: str, key: str, fields: list[str]) -> dict[str, datetime]:
        return {f: self.versions[(table, key, f)] for f in fields if (table, key, f) in self.versions}

    def has_activity(self, source: str, event_id: str) -> bool:
        return (source, event_id) in self.activities

    def plan(self, event: InboundEvent, system: str) -> WritePlan:
        return plan_write(event, system, AUTHORITY, self)


def event(source: str, kind: str, entity: str, data: dict[str, Any], at: datetime = AT) -> InboundEvent:
    return InboundEvent(source=source, event_id="ev-1", kind=kind, entity=entity, occurred_at=at, data=data)
