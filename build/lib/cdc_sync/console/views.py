"""What each console page shows, read through the same store functions the CLI prints (no
logic of its own beyond arranging it). Personal data is masked unless the page is asked for it."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Engine, select, text

from cdc_sync.admin.consumer_groups import OffsetsReport
from cdc_sync.admin.offsets import destinations_for
from cdc_sync.config import AppConfig
from cdc_sync.model.times import parse_instant
from cdc_sync.observability.logs import REDACTOR
from cdc_sync.outbound.pipeline import Route
from cdc_sync.report.latency import DestinationSummary, Report, build_report
from cdc_sync.store import conflicts, destinations
from cdc_sync.store.audit import AuditQuery, audit_trail
from cdc_sync.store.dead_letters import STATUSES, LetterQuery, StoredLetter, list_letters
from cdc_sync.store.destinations import DestinationStatus
from cdc_sync.store.health import DeadLetterDepth, open_dead_letters
from cdc_sync.store.report_queries import LedgerWindow, fetch_ledger
from cdc_sync.store.tables import alerts

# The thresholds of the alert rules (ops/prometheus/alerts.yml) the overview's banner shows.
DLQ_DEPTH_ALERT = 100
RECENT_ALERTS = timedelta(minutes=15)
RECENT_DELIVERIES = timedelta(minutes=15)


def shown(value: Any, pii: bool) -> str:
    """A value as text for a page: JSON for structures, personal data masked unless `pii`."""
    rendered = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return rendered if pii else REDACTOR.redact(rendered)


@dataclass(frozen=True)
class DestinationRow:
    name: str
    kind: str
    state: str  # active | paused | rolling out
    reason: str | None
    held: int
    dead_letters: int
    oldest_dead_letter_s: float | None
    lag: int | None  # consumer lag over the topics routed to it (None: Kafka not reachable)
    p95_ms: float | None  # end to end, the last 15 minutes
    error_rate: float | None  # attempts not acknowledged, the last 15 minutes


@dataclass(frozen=True)
class Overview:
    destinations: list[DestinationRow]
    open_conflicts: int
    alerts: list[dict[str, Any]]
    banners: list[str]


def delivery_summaries(engine: Engine, destination: str | None = None) -> Report:
    """The report (`cdc-sync report`) over the last RECENT_DELIVERIES, in one-minute buckets."""
    now = datetime.now(UTC)
    window = LedgerWindow(now - RECENT_DELIVERIES, now, timedelta(minutes=1), destination)
    return build_report(fetch_ledger(engine, window), window, window.bucket, now)


def overview(engine: Engine, config: AppConfig, lag: Mapping[str, int | None]) -> Overview:
    """`lag`: each destination's consumer lag (`destination_lag`)."""
    names = sorted(config.destinations)
    depth = {d.destination: d for d in open_dead_letters(engine)}
    recent = {s.destination: s for s in delivery_summaries(engine).summaries}
    shares = destinations.controls(engine, config.destinations).shares
    rows = [
        _row(status, config.destinations[status.name].kind, shares, depth, recent, lag)
        for status in destinations.statuses(engine, names)
    ]
    alerted = _recent_alerts(engine)
    return Overview(rows, conflicts.open_count(engine), alerted, _banners(rows, alerted))


def _row(
    status: DestinationStatus,
    kind: str,
    shares: Mapping[str, float],
    depth: Mapping[str, DeadLetterDepth],
    recent: Mapping[str, DestinationSummary],
    lag: Mapping[str, int | None],
) -> DestinationRow:
    rolling = shares.get(status.name, 1.0) < 1
    state = "paused" if status.state == "paused" else "rolling out" if rolling else "active"
    letters, summary = depth.get(status.name), recent.get(status.name)
    success = summary.success_rate if summary else None
    return DestinationRow(
        status.name,
        kind,
        state,
        status.reason,
        status.held,
        letters.open if letters else 0,
        letters.oldest_age_s if letters else None,
        lag.get(status.name),
        summary.end_to_end_ms.p95 if summary and summary.end_to_end_ms else None,
        None if success is None else round(1 - success, 4),
    )


def _banners(rows: list[DestinationRow], recent: list[dict[str, Any]]) -> list[str]:
    found = [
        f"{r.name} is paused ({r.reason or 'no reason given'}): {r.held} held"
        for r in rows
        if r.state == "paused"
    ]
    found += [
        f"{r.name}: {r.dead_letters} open dead letters (alert at {DLQ_DEPTH_ALERT})"
        for r in rows
        if r.dead_letters >= DLQ_DEPTH_ALERT
    ]
    severe = [a for a in recent if a["severity"] == "severe"]  # the ones that page someone
    if severe:
        found.append(f"{len(severe)} severe alerts in the last {RECENT_ALERTS.seconds // 60} minutes")
    return found


def _recent_alerts(engine: Engine) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - RECENT_ALERTS
    statement = (
        select(alerts.c.at, alerts.c.severity, alerts.c.kind, alerts.c.destination, alerts.c.message)
        .where(alerts.c.at >= since)
        .order_by(alerts.c.at.desc())
        .limit(20)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement).mappings()]


@dataclass(frozen=True)
class LetterFilter:
    """The dead-letter page's filter (`dlq list`'s options): all optional but the status."""

    entity: str = ""
    destination: str = ""
    reason: str = ""
    since: str = ""  # ISO 8601 or a duration back from now (90m, 24h, 7d)
    status: str = "open"

    FIELDS: ClassVar[tuple[str, ...]] = ("object", "destination", "reason", "since")  # the form's names

    def query(self, now: datetime) -> LetterQuery:
        return LetterQuery(
            destination=self.destination or None,
            reason=self.reason or None,
            since=parse_instant(self.since, now) if self.since else None,
            status=None if self.status == "all" else STATUSES.get(self.status, "open"),
            entity=self.entity or None,
        )


def dead_letters(engine: Engine, wanted: LetterFilter) -> list[StoredLetter]:
    return list_letters(engine, wanted.query(datetime.now(UTC)))


_CONTACT_BY_EMAIL = text("SELECT id FROM contacts WHERE lower(email) = lower(:e) ORDER BY id LIMIT 1")


def timeline_object(engine: Engine, query: str) -> str | None:
    """`contact:42` as it is, an e-mail as the contact that has it; None when nothing matches."""
    query = query.strip()
    if "@" not in query:
        return query or None
    with engine.connect() as conn:
        found = conn.execute(_CONTACT_BY_EMAIL, {"e": query}).scalar()
    return None if found is None else f"contact:{found}"


def timeline(engine: Engine, obj: str) -> list[dict[str, Any]]:
    """Everything that happened to the object, newest first: operator actions, vendor writes to
    the CRM, conflicts, acknowledged pushes (the audit trail `cdc-sync audit --object` prints)."""
    return audit_trail(engine, AuditQuery(obj=obj, limit=200))


def destination_lag(
    offsets: OffsetsReport, routes: Mapping[str, Sequence[Route]], prefix: str
) -> dict[str, int | None]:
    """Each destination's consumer lag: the sum over the partitions of the topics routed to it."""
    lag: dict[str, int | None] = {}
    for row in offsets.rows:
        for destination in destinations_for(row.topic, prefix, routes):
            lag[destination] = (lag.get(destination) or 0) + (row.lag or 0)
    return lag
