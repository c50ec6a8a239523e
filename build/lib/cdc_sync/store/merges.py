"""The merge queue (SQL): vendor events that named several CRM contacts wait here until an
operator says which one is meant; the answer holds for later events with the same match key."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, text, update

from cdc_sync.errors import ConfigError
from cdc_sync.store import inbox
from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import SCHEMA, merge_reviews

_WAITING = text(
    f"SELECT entity, count(*) FROM {SCHEMA}.inbox WHERE status = 'ambiguous' "
    "AND entity = ANY(CAST(:keys AS text[])) GROUP BY entity"
)
_CANDIDATES = text(
    "SELECT id, first_name, last_name, email, phone, owner_id, updated_at FROM contacts "
    "WHERE id IN :ids ORDER BY id"
).bindparams(bindparam("ids", expanding=True))


def list_merges(engine: Engine, status: str | None = "open") -> list[dict[str, Any]]:
    statement = select(merge_reviews).order_by(merge_reviews.c.id.desc()).limit(500)
    if status:
        statement = statement.where(merge_reviews.c.status == status)
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(statement).mappings()]
        waiting = _waiting(conn, [row["match_key"] for row in rows])
    return [{**row, "waiting": waiting.get(row["match_key"], 0)} for row in rows]


def _waiting(conn: Connection, keys: list[str]) -> dict[str, int]:
    """How many events wait in the inbox on each of these match keys."""
    return {str(key): int(count) for key, count in conn.execute(_WAITING, {"keys": keys})}


def get_merge(engine: Engine, review_id: int) -> dict[str, Any]:
    """The review, its candidate contacts as the CRM has them now, and how many events wait."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(merge_reviews).where(merge_reviews.c.id == review_id))
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise ConfigError(f"no merge review {review_id}")
        found = dict(row)
        found["contacts"] = [
            dict(c) for c in conn.execute(_CANDIDATES, {"ids": list(found["candidates"])}).mappings()
        ]
        found["waiting"] = _waiting(conn, [found["match_key"]]).get(found["match_key"], 0)
    return found


def resolve_merge(engine: Engine, review_id: int, keep: int, actor: str) -> int:
    """Say contact `keep` is the one the review's match key means (audited); its waiting events go
    back to the writer. Returns how many."""
    review = get_merge(engine, review_id)
    if review["status"] != "open":
        raise ConfigError(f"merge review {review_id} is already {review['status']}")
    if keep not in review["candidates"]:
        raise ConfigError(f"contact {keep} is not one of review {review_id}'s {review['candidates']}")
    with engine.begin() as conn:
        claimed = conn.execute(
            update(merge_reviews)
            .where(merge_reviews.c.id == review_id, merge_reviews.c.status == "open")
            .values(status="resolved", kept_contact=keep, resolved_by=actor, resolved_at=datetime.now(UTC))
        ).rowcount
        if not claimed:
            raise ConfigError(f"merge review {review_id} was resolved by someone else meanwhile")
        released = inbox.release(conn, "ambiguous", [review["match_key"]])
        details = {"review": review_id, "match_key": review["match_key"], "released": released}
        audit_in(
            conn,
            actor,
            "merge.resolve",
            f"contact:{keep}",
            {"candidates": review["candidates"]},
            {"kept": keep},
            details,
        )
    return released
