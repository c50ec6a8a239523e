"""The merge queue (SQL): vendor events that named several CRM contacts wait here until an
operator says which one is meant; the answer holds for later events with the same match key."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, text, update

from cdc_sync.errors import ConfigError
from cdc_sync.store.audit import audit_in
from cdc_sync.store.inbox import INBOX_CHANNEL
from cdc_sync.store.tables import SCHEMA, merge_reviews

_WAITING = text(f"SELECT count(*) FROM {SCHEMA}.inbox WHERE status = 'ambiguous' AND entity = :key")
_RELEASE = text(
    f"UPDATE {SCHEMA}.inbox SET status = 'pending', processed_at = NULL "
    "WHERE status = 'ambiguous' AND entity = :key RETURNING id"
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
        for row in rows:
            row["waiting"] = int(conn.execute(_WAITING, {"key": row["match_key"]}).scalar_one())
    return rows


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
        found["waiting"] = int(conn.execute(_WAITING, {"key": found["match_key"]}).scalar_one())
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
        released = len(conn.execute(_RELEASE, {"key": review["match_key"]}).all())
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": INBOX_CHANNEL})
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
