"""`cdc-sync prune`: cdc-sync's own tables pruned by the `[retention]` rules (the logic is in
`repair.retention`)."""

from datetime import UTC, datetime

import click

from cdc_sync.cli.common import actor, config_of, emit, state_engine_of
from cdc_sync.errors import ConfigError
from cdc_sync.repair.retention import cutoffs, prune
from cdc_sync.store.audit import audit


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would go; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def prune_command(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Remove the ledger, inbox, dead-letter and audit rows older than `[retention]` allows
    (events still waiting and open dead letters are kept), in batches. Audited."""
    retention, engine, now = config_of(ctx).retention, state_engine_of(ctx), datetime.now(UTC)
    limits = cutoffs(retention, now)
    if not limits:
        raise ConfigError(
            "[retention] sets no limit (ledger_days, inbox_days, dead_letters_days, audit_days)"
        )

    def progress(table: str, rows: int) -> None:
        click.echo(f"{table}: {rows:,} more rows removed", err=True)

    removed = prune(engine, retention, now, None if dry_run else progress, dry_run)
    if not dry_run:
        details = {table: cutoff.isoformat() for table, cutoff in limits.items()}
        audit(engine, actor(), "retention.prune", "retention", None, removed, details)
    verb = "would remove" if dry_run else "removed"
    lines = [
        f"{table}: {verb} {rows:,} rows older than {limits[table]:%Y-%m-%d %H:%M} UTC"
        for table, rows in removed.items()
    ]
    emit({"dry_run": dry_run, "removed": removed}, as_json, lines)
