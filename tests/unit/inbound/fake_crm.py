"""An in-memory `CrmReads` for handler tests: rows by table, field versions, recorded activities."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdc_sync.config import load_config
from cdc_sync.inbound.handlers import plan_write
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.writes import ActivityEntry, Row, WritePlan

AUTHORITY = load_config(Path("config/cdc-sync.toml")).authority  # the shipped rules
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@dataclass
class FakeCrm:
    tables: dict[str, list[Row]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    activities: set[tuple[str, str]] = field(default_factory=set)
    next_id: int = 1000
    timeline: list[ActivityEntry] = field(default_factory=list)
    refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (system, vendor id) → entity
    merged: dict[str, int] = field(default_factory=dict)  # resolved merge reviews: key → kept contact

    def row(self, table: str, column: str, value: Any) -> Row | None:
        return next((dict(r) for r in self.tables.get(table, []) if r.get(column) == value), None)

    def rows(self, table: str, column: str, value: Any) -> list[Row]:
        return [dict(r) for r in self.tables.get(table, []) if r.get(column) == value]

    def contacts_by_phone_tail(self, digits: str) -> list[Row]:
        def tail(phone: Any) -> str:
            return "".join(ch for ch in str(phone or "") if ch.isdigit())[-8:]

        return [
            dict(r)
            for r in self.tables.get("contacts", [])
            if r.get("phone") and tail(r["phone"]) == digits[-8:]
        ]

    def new_id(self, table: str) -> int:
        self.next_id += 1
        return self.next_id

    def contacts_by_email(self, email: str) -> list[Row]:
        found = [r for r in self.tables.get("contacts", []) if str(r.get("email", "")).lower() == email]
        return [dict(r) for r in sorted(found, key=lambda r: r["id"])]

    def merge_choice(self, match_key: str) -> int | None:
        return self.merged.get(match_key)

    def applied_times(self, table: str, key: str, fields: list[str]) -> dict[str, datetime]:
        return {f: self.versions[(table, key, f)] for f in fields if (table, key, f) in self.versions}

    def has_activity(self, source: str, event_id: str) -> bool:
        return (source, event_id) in self.activities

    def vendor_entity(self, system: str, vendor_ref: str) -> str | None:
        return self.refs.get((system, vendor_ref))

    def plan(self, event: InboundEvent, system: str) -> WritePlan:
        return plan_write(event, system, AUTHORITY, self)

    def apply(self, plan: WritePlan) -> None:
        """What the store's applier does, in memory: rows, field versions and timeline entries."""
        for new in plan.creates:
            self.tables.setdefault(new.table, []).append({"updated_at": plan.occurred_at, **new.values})
        for change in plan.updates:
            for row in self.tables.get(change.table, []):
                if row.get(change.key_column) == change.key:
                    row.update(change.values)
        for version in plan.versions:
            for name in version.fields:
                self.versions[(version.table, version.key, name)] = version.occurred_at
        if plan.activities:
            self.activities.add((plan.source, plan.event_id))
        self.timeline.extend(plan.activities)

    def play(self, event: InboundEvent, system: str) -> WritePlan:
        plan = self.plan(event, system)
        self.apply(plan)
        return plan


def event(source: str, kind: str, entity: str, data: dict[str, Any], at: datetime = AT) -> InboundEvent:
    return InboundEvent(source=source, event_id="ev-1", kind=kind, entity=entity, occurred_at=at, data=data)
