"""`cdc-sync audit`: who changed what, when, in both directions."""

import json
import sys
from datetime import datetime
from typing import Any

import click

from cdc_sync.cli.common import emit, state_engine_of
from cdc_sync.cli.params import INSTANT
from cdc_sync.store.audit import AuditQuery, audit_trail, verify_chain


def _line(record: dict[str, Any]) -> str:
    change = ""
    if record["before"] is not None or record["after"] is not None:
        change = f" {json.dumps(record['before'], default=str)} -> {json.dumps(record['after'], default=str)}"
    details = f" {json.dumps(record['details'], default=str)}" if record["details"] else ""
    return (
        f"{record['at']:%Y-%m-%d %H:%M:%S} {record['actor']:<14} {record['action']:<26} "
        f"{record['object'] or '-'}{change}{details}"
    )


@click.group("audit", invoke_without_command=True)
@click.option("--object", "obj", help="Only this object, e.g. contact:42, destination:marketing.")
@click.option("--since", type=INSTANT, help="Only records at or after this time (ISO 8601, or 24h, 90m ago).")
@click.option("--action", help="An action (dlq.replay) or a prefix (dlq.*, push.*).")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def audit(
    ctx: click.Context, obj: str | None, since: datetime | None, action: str | None, limit: int, as_json: bool
) -> None:
    """The audit trail, newest first: operator actions, vendor writes to the CRM and pushes to
    vendors. `audit verify` checks the log's hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    query = AuditQuery(obj, since, action, limit)
    records = audit_trail(state_engine_of(ctx, "auditor"), query)
    emit(records, as_json, [_line(record) for record in records] or ["no audit records match"])


@audit.command("verify")
@click.option("--from", "from_id", type=click.IntRange(min=1), default=1, help="Start at this row id.")
@click.pass_context
def verify(ctx: click.Context, from_id: int) -> None:
    """Check the audit log's hash chain: exit 1, naming the rows, if a row was changed, removed
    or added outside cdc-sync (keyed with CDC_SYNC_AUDIT_KEY when it is set)."""
    click.echo("checking the audit chain ...", err=True)
    verdict = verify_chain(state_engine_of(ctx, "auditor"), from_id)
    older = (
        f"; {verdict.before_chain} older rows were written before the chain" if verdict.before_chain else ""
    )
    for found in verdict.breaks:
        click.echo(f"audit row {found.row_id}: {found.reason}")
    if verdict.breaks:
        click.echo(f"audit chain broken: {len(verdict.breaks)} problem(s) in {verdict.rows} rows{older}")
        sys.exit(1)
    span = f" (ids {verdict.first_id}..{verdict.last_id})" if verdict.rows else ""
    click.echo(f"audit chain intact: {verdict.rows} rows{span}{older}")
