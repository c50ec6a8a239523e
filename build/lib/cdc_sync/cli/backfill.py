"""`cdc-sync backfill SYSTEM`: a vendor's history into the inbox, merged by the writer like its
webhooks' events (the logic is in `repair.backfill`, the reading in the vendor's folder)."""

import asyncio
from datetime import UTC, datetime

import click
from sqlalchemy import Engine

from cdc_sync.cli.common import actor, destination_of_kind, emit, state_engine_of
from cdc_sync.cli.params import Instant
from cdc_sync.cli.reconcile import Progress
from cdc_sync.model.config import DestinationConfig
from cdc_sync.repair.backfill import BackfillReport, open_api, run_backfill
from cdc_sync.store import backfills
from cdc_sync.store.audit import audit
from cdc_sync.vendors.plugin import Backfill, BackfillStart
from cdc_sync.vendors.registry import BACKFILLS

THE_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


HELP = """Read SYSTEM's history from its vendor and queue it for the writer, which merges it
through the same handlers and authority rules as live events, behind them. Rate-limited below
the vendor's limit; resumes after the last page it stored when run again after a crash (the
original --since holds); `--restart` starts over. Audited.

\b
What each SYSTEM reads:
""" + "\n".join(f"  {system}: {reading.reads}" for system, (_, reading) in sorted(BACKFILLS.items()))


@click.command(help=HELP)
@click.argument("system", type=click.Choice(sorted(BACKFILLS)))
@click.option("--since", type=Instant(), help="Records changed at or after this (default: all of them).")
@click.option("--destination", help="The destination to read from (default: the config's one of SYSTEM).")
@click.option("--restart", is_flag=True, help="Start over from --since instead of resuming.")
@click.option(
    "--per-minute",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests a minute at most (default: below the vendor's limit for the endpoint).",
)
@click.option(
    "--page-size", type=click.IntRange(min=1), help="Records a request (default: the vendor's most)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def backfill(
    ctx: click.Context,
    system: str,
    since: datetime | None,
    destination: str | None,
    restart: bool,
    per_minute: float | None,
    page_size: int | None,
    as_json: bool,
) -> None:
    """Read SYSTEM's history from its vendor and queue it for the writer (see the list below)."""
    engine = state_engine_of(ctx)
    kind, reading = BACKFILLS[system]
    name, config = destination_of_kind(ctx, kind, destination)
    cursor = f"{system}:{name}"
    if restart:
        backfills.forget(engine, cursor)
    start = BackfillStart(since or THE_BEGINNING, None, page_size or reading.page_size)
    report = asyncio.run(_run(engine, cursor, name, config, reading, start, per_minute or reading.per_minute))
    summary = report.as_json()
    details = {"destination": name, "restart": restart}
    audit(engine, actor(), f"backfill.{system}", f"backfill:{cursor}", None, summary, details)
    emit(summary, as_json, [_line(system, report)])


async def _run(
    engine: Engine,
    cursor: str,
    name: str,
    config: DestinationConfig,
    reading: Backfill,
    start: BackfillStart,
    per_minute: float,
) -> BackfillReport:
    api = open_api(name, config, per_minute)
    try:
        with Progress() as bar:
            return await run_backfill(
                engine, cursor, api, config, reading, start, lambda n, total: _advance(bar, name, n, total)
            )
    finally:
        await api.aclose()


def _advance(bar: Progress, name: str, records: int, total: int | None) -> None:
    """A bar when the vendor says how many records there are, a line a page when not."""
    if total is None:
        click.echo(f"{name}: {records:,} more records read", err=True)
    else:
        bar(f"reading {name}", records, total)


def _line(system: str, report: BackfillReport) -> str:
    resumed = f", resumed after {report.resumed_after}" if report.resumed_after else ""
    return (
        f"backfill {system}: {report.records:,} records in {report.pages} pages{resumed}, "
        f"{report.events:,} to merge, {report.stored:,} new to the inbox "
        f"({report.events - report.stored:,} it had), {report.seconds:.1f}s; "
        "the writer merges them (`cdc-sync inbox list`)"
    )
