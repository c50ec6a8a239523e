"""The conflict review queue: list, show, resolve (keep the CRM's value or the vendor's)."""

from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, select, text, update

from cdc_sync.errors import ConfigError
from cdc_sync.events import entity_name
from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import conflicts

Keep = Literal["crm", "vendor"]
# Conflicts name CRM tables and columns; only these may be written back on resolution.
_KEYS = {"tickets": "id", "contacts": "id", "opportunities": "id", "subscriptions": "contact_id"}


def list_conflicts(engine: Engine, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    statement = select(conflicts).order_by(conflicts.c.id.desc()).limit(limit)
    if status:
        statement = statement.where(conflicts.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]


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
