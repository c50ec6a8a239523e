"""The conflict review queue: list, show, resolve (keep the CRM's value or the vendor's)."""

from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from cdc_sync.errors import ConfigError
from cdc_sync.events import entity_name
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.writes import key_column
from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import conflicts

Keep = Literal["crm", "vendor"]
CRM_CORRECTION = "crm_correction"  # a conflict's kind: a CRM correction the vendor refused
# Conflicts name CRM tables and columns; only these may be written back on resolution.
_KEYS = {table: key_column(table) for table in ("tickets", "contacts", "opportunities", "subscriptions")}


def list_conflicts(engine: Engine, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    statement = select(conflicts).order_by(conflicts.c.id.desc()).limit(limit)
    if status:
        statement = statement.where(conflicts.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]


def open_count(engine: Engine) -> int:
    with engine.connect() as conn:
        statement = select(func.count()).select_from(conflicts).where(conflicts.c.status == "open")
        return int(conn.execute(statement).scalar_one())


def get_conflict(engine: Engine, conflict_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(conflicts).where(conflicts.c.id == conflict_id)).mappings().one_or_none()
    if row is None:
        raise ConfigError(f"no conflict with id {conflict_id}")
    return dict(row)


def resolve(engine: Engine, conflict_id: int, keep: Keep, actor: str) -> Any:
    """Apply the decision in one transaction with its audit row. Either way the row is written, so
    the decided value flows outbound too. Keeping the CRM's value keeps what the CRM holds *now*
    (re-read under a row lock), not the value captured with the conflict, which a later CRM edit
    may have replaced. Returns the value kept."""
    found = get_conflict(engine, conflict_id)
    if found["status"] != "open":
        raise ConfigError(f"conflict {conflict_id} is already {found['status']}")
    if found["kind"] == CRM_CORRECTION:
        raise ConfigError(f"conflict {conflict_id} is a refused CRM correction: it is decided at the vendor")
    table, field = found["table_name"], found["field"]
    key = _KEYS.get(table)
    if key is None or not field.isidentifier():
        raise ConfigError(f"conflict {conflict_id} names {table}.{field}, which cdc-sync does not write")
    with engine.begin() as conn:
        if not _claim(conn, conflict_id, keep, actor):
            raise ConfigError(f"conflict {conflict_id} was resolved by someone else meanwhile")
        row = {"k": found["row_id"]}
        current = conn.execute(text(f"SELECT {field} FROM {table} WHERE {key} = :k FOR UPDATE"), row).scalar()
        value = found["vendor_value"] if keep == "vendor" else current
        conn.execute(text(f"UPDATE {table} SET {field} = :v WHERE {key} = :k"), {"v": value, **row})
        audit_in(
            conn,
            actor,
            "conflict.resolve",
            entity_name(table, [found["row_id"]]),
            {field: str(current)},
            {field: value},
            {"conflict": conflict_id, "keep": keep, "source": found["source"]},
        )
    return value


def _claim(conn: Connection, conflict_id: int, keep: Keep, actor: str) -> bool:
    """Mark the conflict resolved if it is still open (two resolutions race: one wins)."""
    statement = (
        update(conflicts)
        .where(conflicts.c.id == conflict_id, conflicts.c.status == "open")
        .values(status="resolved", resolution=keep, resolved_by=actor, resolved_at=func.now())
    )
    return conn.execute(statement).rowcount == 1


def add_refused_correction(engine: Engine, delivery: Delivery, outcome_summary: str) -> int:
    """A CRM correction the vendor refused because its object changed meanwhile, as an open
    conflict (kind `crm_correction`) that keeps the refused request for `resolve --keep crm`."""
    correction = delivery.request.correction
    assert correction is not None, "only correcting requests are refused as conflicts"
    request = delivery.request.model_dump(mode="json", include={"method", "path", "body"})
    values = {
        "source": delivery.destination,
        "event_id": delivery.idempotency_key,
        "table_name": correction.table,
        "row_id": correction.row_id,
        "field": correction.field,
        "crm_value": correction.crm_value,
        "vendor_value": None,  # the vendor's current value reaches the CRM through its own webhook
        "reason": f"{delivery.destination} changed it after the CRM's correction ({outcome_summary})",
        "kind": CRM_CORRECTION,
        "details": {"destination": delivery.destination, "request": request, "why": correction.reason},
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(conflicts).values(**values).returning(conflicts.c.id)).scalar_one())


def close_correction(
    engine: Engine, found: dict[str, Any], keep: Keep, actor: str, answer: dict[str, Any] | None
) -> None:
    """Close a refused correction with its audit row (the CRM row is not written: the vendor's
    webhook brings whichever value now stands)."""
    entity = entity_name(found["table_name"], [found["row_id"]])
    with engine.begin() as conn:
        if not _claim(conn, found["id"], keep, actor):
            raise ConfigError(f"conflict {found['id']} was resolved by someone else meanwhile")
        details = {"conflict": found["id"], "keep": keep, "destination": found["source"], "answer": answer}
        audit_in(conn, actor, "conflict.resolve", entity, None, {found["field"]: found["crm_value"]}, details)
