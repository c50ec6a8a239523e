"""`cdc-sync report`: latency, errors, dead letters and pauses from the ledger, as one HTML page."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from cdc_sync.cli.common import state_engine_of
from cdc_sync.cli.params import DURATION, INSTANT
from cdc_sync.report import html_plots
from cdc_sync.report.latency import bucket_width, build_report, summary_data, summary_line
from cdc_sync.store.report_queries import LedgerWindow, fetch_ledger


@click.command("report")
@click.option(
    "--since",
    type=INSTANT,
    default="24h",
    show_default=True,
    help="Window start: how long ago (90m, 24h, 7d) or ISO 8601 (UTC unless it says otherwise).",
)
@click.option("--until", type=INSTANT, help="Window end, same forms as --since.  [default: now]")
@click.option(
    "--bucket",
    type=DURATION,
    default="5m",
    show_default=True,
    help="Time bucket of the plots; widened if the window would have more than 200.",
)
@click.option("--destination", help="Only this destination.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the HTML page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary numbers as JSON.")
@click.pass_context
def report(
    ctx: click.Context,
    since: datetime,
    until: datetime | None,
    bucket: timedelta,
    destination: str | None,
    out: Path,
    as_json: bool,
) -> None:
    """A self-contained HTML report of deliveries: latency percentiles, errors, dead letters, pauses."""
    now = datetime.now(UTC)
    start, end = since.astimezone(UTC), (until or now).astimezone(UTC)
    if start >= end:
        raise click.BadParameter(
            f"{start:%Y-%m-%d %H:%M:%S} UTC is not before the window end", param_hint="'--since'"
        )
    if not out.parent.is_dir():
        raise click.BadParameter(f"directory {out.parent} does not exist", param_hint="'--out'")
    window = LedgerWindow(start, end, bucket_width(start, end, bucket), destination)
    built = build_report(fetch_ledger(state_engine_of(ctx), window), window, bucket, now)
    page = html_plots().render_html(built)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(out), exc.strerror) from exc
    if as_json:
        click.echo(json.dumps({"out": str(out), **summary_data(built)}, indent=2))
    else:
        click.echo(f"wrote {out}")
        click.echo(summary_line(built))
