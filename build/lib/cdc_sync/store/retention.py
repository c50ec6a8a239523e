"""Retention (SQL): which rows of cdc-sync's own tables may go once old enough, removed a batch
at a time so no statement holds many locks or a long transaction."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Table, delete, func, select, text

from cdc_sync.store.tables import audit_log, dead_letters, deliveries, inbox

# Events the writer still waits on, or an operator must decide, are never pruned.
WAITING = ("pending", "unmatched", "ambiguous")


@dataclass(frozen=True)
class Rule:
    """A table, the setting that limits it, and which of its rows older than the limit may go."""

    table: Table
    setting: str  # the RetentionConfig field in days
    old: Callable[[datetime], ColumnElement[bool]]


RULES = (
    Rule(deliveries, "ledger_days", lambda cutoff: deliveries.c.at < cutoff),
    Rule(
        inbox,
        "inbox_days",
        lambda cutoff: (inbox.c.received_at < cutoff) & inbox.c.status.not_in(WAITING),
    ),
    Rule(
        dead_letters,
        "dead_letters_days",
        lambda cutoff: (dead_letters.c.status != "open") & (dead_letters.c.resolved_at < cutoff),
    ),
    Rule(audit_log, "audit_days", lambda cutoff: audit_log.c.at < cutoff),
)


def prune_batch(engine: Engine, rule: Rule, cutoff: datetime, batch: int) -> int:
    """Remove up to `batch` prunable rows (oldest ids first); returns how many went. Audit rows
    only through the owner's function: no service role may delete from the log itself."""
    if rule.table is audit_log:
        with engine.begin() as conn:
            return int(conn.execute(_PRUNE_AUDIT, {"cutoff": cutoff, "batch": batch}).scalar_one())
    ids = select(rule.table.c.id).where(rule.old(cutoff)).order_by(rule.table.c.id).limit(batch)
    with engine.begin() as conn:
        return conn.execute(delete(rule.table).where(rule.table.c.id.in_(ids.scalar_subquery()))).rowcount


_PRUNE_AUDIT = text(f"SELECT {audit_log.schema}.prune_audit(:cutoff, :batch)")


def count_prunable(engine: Engine, rule: Rule, cutoff: datetime) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(rule.table).where(rule.old(cutoff))).scalar_one()
        )
