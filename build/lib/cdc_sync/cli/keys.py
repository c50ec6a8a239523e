"""`cdc-sync keys`: the data keys of encryption at rest (the logic is in `store.rekey`)."""

import click

from cdc_sync.cli.common import actor, emit, state_engine_of
from cdc_sync.errors import CdcSyncError
from cdc_sync.sealing import new_key_text
from cdc_sync.store.audit import audit
from cdc_sync.store.rekey import reseal_all, targets
from cdc_sync.store.sealed import active


@click.group("keys")
def keys() -> None:
    """Data keys of encryption at rest: CDC_SYNC_DATA_KEY seals, CDC_SYNC_DATA_KEY_PREVIOUS
    still opens what it sealed (a rotation in progress)."""


@keys.command("new")
def new_key() -> None:
    """Print a fresh data key (base64 of 32 random bytes) to set as CDC_SYNC_DATA_KEY."""
    click.echo(new_key_text())


@keys.command("rotate")
@click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="Rows a transaction."
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    type=click.Choice([target.table.name for target in targets()]),
    help="Only this table (repeatable); default: every table with sealed columns.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def rotate(ctx: click.Context, batch: int, tables: tuple[str, ...], as_json: bool) -> None:
    """Re-seal every encrypted payload (inbox, dead letters, held deliveries, conflicts) with
    CDC_SYNC_DATA_KEY: rows sealed with another key (CDC_SYNC_DATA_KEY_PREVIOUS) or still in clear
    are rewritten, a batch per transaction. Safe to interrupt and rerun; audited."""
    engine = state_engine_of(ctx)
    kid = active().current_kid
    done: dict[str, int] = {}

    def progress(table: str, rows: int, total: int) -> None:
        done[table] = rows
        click.echo(f"{table}: {rows:,} of {total:,} rows re-sealed", err=True)

    try:
        resealed = reseal_all(engine, batch, progress, tables)
    except CdcSyncError as exc:
        failed = {"rows": done, "failed": str(exc)}
        audit(engine, actor(), "keys.rotate", "data_keys", None, {"kid": kid}, failed)
        raise
    audit(engine, actor(), "keys.rotate", "data_keys", None, {"kid": kid}, {"rows": resealed})
    lines = [f"{table}: {rows:,} rows re-sealed" for table, rows in resealed.items()]
    under = f"sealed with data key {kid}" if kid else "in clear (CDC_SYNC_PLAINTEXT_AT_REST)"
    emit({"kid": kid, "resealed": resealed}, as_json, [*lines, f"every payload there is now {under}"])
