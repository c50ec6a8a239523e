"""The CRM side of segment pushes (SQL): segments and their members' addresses, the platform's
segment id once it exists, and the audit entry and alert of every push."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from cdc_sync.errors import ConfigError
from cdc_sync.store.alerts import record_alert
from cdc_sync.store.audit import audit

_SEGMENTS = text(
    "SELECT s.id, s.name, s.external_id, count(m.contact_id) AS members FROM segments s "
    "LEFT JOIN segment_members m ON m.segment_id = s.id "
    "WHERE CAST(:names AS text[]) IS NULL OR s.name = ANY(CAST(:names AS text[])) "
    "GROUP BY s.id ORDER BY s.name"
)
_EMAILS = text(
    "SELECT lower(trim(c.email)) FROM segment_members m JOIN contacts c ON c.id = m.contact_id "
    "WHERE m.segment_id = :s AND coalesce(trim(c.email), '') <> ''"
)
_UNLINK_STALE = text("UPDATE segments SET external_id = NULL WHERE external_id = :x AND id <> :s")
_LINK = text("UPDATE segments SET external_id = :x WHERE id = :s AND external_id IS DISTINCT FROM :x")


@dataclass(frozen=True)
class CrmSegment:
    id: int
    name: str
    external_id: str | None
    members: int


def crm_segments(engine: Engine, names: list[str] | None = None) -> list[CrmSegment]:
    """The CRM's segments (or the named ones: ConfigError for a name the CRM does not have)."""
    with engine.connect() as conn:
        rows = conn.execute(_SEGMENTS, {"names": names or None}).all()
    found = [CrmSegment(int(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]
    missing = sorted(set(names or ()) - {s.name for s in found})
    if missing:
        raise ConfigError(f"no CRM segment named {', '.join(missing)}")
    return found


def member_emails(engine: Engine, segment: CrmSegment) -> set[str]:
    """The addresses of the segment's members (members without one cannot be pushed)."""
    with engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(_EMAILS, {"s": segment.id})}


def link_segment(engine: Engine, segment: CrmSegment, external_id: str, system: str) -> None:
    """Keep the platform's segment id on the CRM segment, written as the platform's; another
    segment that still names the id (the platform's list was replaced) no longer does."""
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('cdc_sync.origin', :o, true)"), {"o": system})
        conn.execute(_UNLINK_STALE, {"x": external_id, "s": segment.id})
        conn.execute(_LINK, {"x": external_id, "s": segment.id})


def record_push(
    engine: Engine, actor: str, destination: str, segment: CrmSegment, push: dict[str, Any]
) -> None:
    """The audit entry of a push, and an alert when the counts disagree beyond the tolerance."""
    audit(
        engine,
        actor,
        "segment.push",
        f"segment:{segment.id}",
        None,
        None,
        {"destination": destination, **push},
    )
    if not push["counts_agree"]:
        message = (
            f"segment {segment.name}: {push['vendor_count']} members on {destination}, "
            f"{push['crm_count']} in the CRM (tolerance {push['tolerance']:.1%})"
        )
        record_alert(engine, "warning", "segment_count", message, destination, push)
