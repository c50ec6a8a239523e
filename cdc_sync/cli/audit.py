"""`cdc-sync audit`: who changed what, when, in both directions."""

import json
from datetime import datetime
from typing import Any

import click

from cdc_sync.cli.common import emit, state_engine_of
from cdc_sync.cli.params import INSTANT
from cdc_sync.store.audit import AuditQuery, audit_trail


def _line(record: dict[str, Any]) -> str:
    change = ""
    if record["before"] is not None or record["after"] is not None:
        change = f" {json.dumps(record['before'], default=str)} -> {json.dumps(record['after'], default=str)}"
    details = f" {json.dumps(record['details'], default=str)}" if record["details"] else ""
    return (
        f"{record['at']:%Y-%m-%d %H:%M:%S} {record['actor']:<14} {record['action']:<26} "
        f"{record['object'] or '-'}{change}{details}"
    )


@click.command("audit")
@click.option("--object", "obj", help="Only this object, e.g. contact:42, destination:marketing.")
@click.option("--since", type=INSTANT, help="Only records at or after this time (ISO 8601, or 24h, 90m ago).")
@click.option("--action", help="An action (dlq.replay) or a prefix (dlq.*, push.*).")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def audit(
    ctx: click.Context, obj: str | None, since: datetime | None, action: str | None, limit: int, as_json: bool
) -> None:
    """The audit trail, newest first: operator actions, vendor writes to the CRM and pushes to vendors."""
    query = AuditQuery(obj, since, action, limit)
    records = audit_trail(state_engine_of(ctx), query)
    emit(records, as_json, [_line(record) for record in records] or ["no audit records match"])
