"""Replaying inbox events the writer could not apply (rejected, or unmatched because the CRM
object was not there yet): back to pending in one audited transaction, for the writer to apply
through the same handlers, authority and staleness rules as when they first came."""

from collections.abc import Sequence

from sqlalchemy import Engine

from cdc_sync.errors import ConfigError
from cdc_sync.store import inbox
from cdc_sync.store.audit import audit_in


def replay(engine: Engine, ids: Sequence[int] | None, source: str | None, actor: str) -> list[int]:
    """Requeue `ids` (or every replayable event, of `source` if given); ConfigError if a named one
    is not rejected or unmatched. Returns the ids requeued."""
    with engine.begin() as conn:
        requeued = inbox.requeue(conn, ids, source)
        missed = sorted(set(ids or ()) - set(requeued))
        if missed:
            raise ConfigError(
                f"inbox events {', '.join(map(str, missed))} are not {' or '.join(inbox.REPLAYABLE)} "
                "(see cdc-sync inbox show ID)"
            )
        details = {"ids": requeued, "source": source, "all": ids is None}
        audit_in(conn, actor, "inbox.replay", "inbox", None, {"requeued": len(requeued)}, details)
    return requeued
