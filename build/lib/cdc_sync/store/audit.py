"""The audit log: who did what to which object, when, with before/after.

Operator commands and the inbound writer write `audit_log` rows. Outbound changes are already
recorded, attempt by attempt, in the delivery ledger; the audit trail shows its acknowledged
attempts beside the audit rows (`push.<operation>`, by `cdc-sync`), so one query answers
"what happened to contact:42" in both directions.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Select, cast, func, insert, literal, null, select, text, union_all

from cdc_sync.rules.audit_chain import Verdict, link_hash, plain_json, verify
from cdc_sync.settings import Settings
from cdc_sync.store.tables import Json, audit_log, deliveries

PUSH_ACTOR = "cdc-sync"  # the service's delivery path: `run`, or an operator's replay, resume or fix


def audit(
    engine: Engine,
    actor: str,
    action: str,
    obj: str | None,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    with engine.begin() as conn:
        audit_in(conn, actor, action, obj, before, after, details)


def audit_in(
    conn: Connection,
    actor: str,
    action: str,
    obj: str | None,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    """The same record inside the caller's transaction (it commits or rolls back with the change)."""
    entry = {
        "actor": actor,
        "action": action,
        "object": obj,
        "before": before,
        "after": after,
        "details": details,
    }
    audit_many_in(conn, [entry])


_CHAIN_LOCK = 0x0CDCA  # one appender at a time: each row's hash covers the one before it


@cache
def _chain_key() -> bytes | None:
    key = Settings().audit_key
    return key.get_secret_value().encode() if key else None


def audit_many_in(conn: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Append `entries` (actor, action, object, before, after, details) to the hash chain, in the
    caller's transaction; appenders queue on a transaction lock until the one before commits."""
    if not entries:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK})
    last = select(audit_log.c.hash).where(audit_log.c.hash.is_not(None)).order_by(audit_log.c.id.desc())
    prev: str | None = conn.execute(last.limit(1)).scalar()
    rows = []
    for entry in entries:
        at = datetime.now(UTC)
        row = {name: plain_json(value) if name in _JSON else value for name, value in entry.items()}
        digest = link_hash(_chain_key(), prev, at, row)
        rows.append({**row, "at": at, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(audit_log), rows)


_JSON = ("before", "after", "details")


def verify_chain(engine: Engine, from_id: int = 0, batch: int = 5_000) -> Verdict:
    """Check the audit log's chain from row `from_id` on (the whole log by default; see
    rules.audit_chain)."""
    return verify(_chain_rows(engine, from_id, batch), _chain_key())


def _chain_rows(engine: Engine, from_id: int, batch: int) -> Iterator[dict[str, Any]]:
    t = audit_log.c
    columns = (t.id, t.at, t.actor, t.action, t.object, t.before, t.after, t.details, t.prev_hash, t.hash)
    after = from_id - 1
    while True:
        with engine.connect() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(select(*columns).where(t.id > after).order_by(t.id).limit(batch))
            ]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


@dataclass(frozen=True)
class AuditQuery:
    obj: str | None = None
    since: datetime | None = None
    action: str | None = None  # exact, or a prefix ending in "." / "*" (e.g. "dlq.", "push.*")
    limit: int = 200


def _audit_rows(query: AuditQuery) -> Select[Any]:
    t = audit_log.c
    statement = select(
        t.at, literal("audit").label("kind"), t.id, t.actor, t.action, t.object, t.before, t.after, t.details
    )
    return _filtered(statement, query, t.object, t.at, t.action)


def _pushes(query: AuditQuery) -> Select[Any]:
    d = deliveries.c
    action = literal("push.").op("||")(d.operation)
    nothing = cast(null(), Json)  # the ledger keeps outcomes, not the vendor's request bodies
    statement = select(
        d.at,
        literal("push").label("kind"),
        d.id,
        literal(PUSH_ACTOR).label("actor"),
        action.label("action"),
        d.entity.label("object"),
        nothing.label("before"),
        nothing.label("after"),
        _push_details().label("details"),
    ).where(d.outcome == "ok")
    return _filtered(statement, query, d.entity, d.at, action)


def _push_details() -> Any:
    d = deliveries.c
    return func.jsonb_build_object(
        "destination",
        d.destination,
        "status_code",
        d.status_code,
        "idempotency_key",
        d.idempotency_key,
        "source",
        func.concat(d.topic, "/", d.kafka_partition, "@", d.kafka_offset),
    )


def _filtered(statement: Select[Any], query: AuditQuery, obj: Any, at: Any, action: Any) -> Select[Any]:
    if query.obj:
        statement = statement.where(obj == query.obj)
    if query.since:
        statement = statement.where(at >= query.since)
    if query.action and query.action.endswith(("*", ".")):
        statement = statement.where(action.startswith(query.action.rstrip("*"), autoescape=True))
    elif query.action:
        statement = statement.where(action == query.action)
    return statement


def audit_trail(engine: Engine, query: AuditQuery) -> list[dict[str, Any]]:
    """Audit records and acknowledged outbound pushes, newest first."""
    pushes = query.action is None or query.action.startswith("push")
    merged = (union_all(_audit_rows(query), _pushes(query)) if pushes else _audit_rows(query)).subquery()
    statement = select(merged).order_by(merged.c.at.desc(), merged.c.id.desc()).limit(query.limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]
