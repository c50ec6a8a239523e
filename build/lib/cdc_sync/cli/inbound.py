"""`cdc-sync serve`, `cdc-sync writer`, `cdc-sync conflicts ...`."""

import asyncio
import signal
from functools import partial
from typing import get_args

import click
import uvicorn

from cdc_sync.cli.common import (
    actor,
    config_of,
    emit,
    metrics_options,
    serve_metrics,
    settings_of,
    state_engine_of,
)
from cdc_sync.cli.console import console_of
from cdc_sync.inbound.assembly import build_app, build_writer
from cdc_sync.model.writes import Status
from cdc_sync.repair.conflicts import resolve_conflict
from cdc_sync.repair.inbox import replay
from cdc_sync.store import health, inbox
from cdc_sync.store.conflicts import Keep, get_conflict, list_conflicts
from cdc_sync.store.merges import get_merge, list_merges, resolve_merge

INBOX_STATUSES = get_args(Status)


@click.command("serve")
@click.option("--no-writer", is_flag=True, help="Only accept webhooks; run `cdc-sync writer` elsewhere.")
@metrics_options
@click.pass_context
def serve(ctx: click.Context, no_writer: bool, metrics_port: int | None) -> None:
    """Inbound: signed webhooks into the inbox, the writer, /healthz, /readyz; /metrics apart, on
    the admin listener ([server] metrics_port, 9109, unless --metrics-port)."""
    config = config_of(ctx)
    token = settings_of(ctx).events_token
    console = console_of(ctx) if config.console.on_serve else None
    engine = state_engine_of(ctx, "serve")
    app = build_app(engine, config, token.get_secret_value() if token else None, console)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.server.host,
            port=config.server.port,
            timeout_keep_alive=config.server.keep_alive_s,
            log_config=None,
            log_level="warning",
        )
    )
    writer = None if no_writer else build_writer(state_engine_of(ctx, "writer"), config)
    if port := metrics_port or config.server.metrics_port:
        serve_metrics(
            ctx, port, "set server.metrics_port or --metrics-port", partial(health.unreachable, engine)
        )
    click.echo(f"cdc-sync serve on http://{config.server.host}:{config.server.port}", err=True)

    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with a handler
    # of ours in place that re-raise is a no-op and the process exits 0 instead of dying by it.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)

    async def main() -> None:
        stop = asyncio.Event()
        writing = None if writer is None else asyncio.create_task(writer.run(stop))
        await server.serve()  # returns on SIGTERM/SIGINT, after in-flight requests
        stop.set()
        if writing is not None:
            await writing

    asyncio.run(main())


@click.command("writer")
@metrics_options
@click.pass_context
def writer_command(ctx: click.Context, metrics_port: int | None) -> None:
    """Apply inbox events to the CRM (the separate writer), until SIGTERM; with --metrics-port,
    /metrics, /healthz and /readyz (the state database answering) there."""
    engine = state_engine_of(ctx, "writer")
    writer = build_writer(engine, config_of(ctx))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if metrics_port:  # answering /metrics means ready: SIGTERM is handled from here on
            serve_metrics(
                ctx, metrics_port, "pick another --metrics-port", partial(health.unreachable, engine)
            )
        await writer.run(stop)

    asyncio.run(main())


@click.group()
def conflicts() -> None:
    """The review queue of vendor writes that were not applied."""


@conflicts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved conflicts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def conflicts_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Open conflicts, newest first."""
    rows = list_conflicts(state_engine_of(ctx), None if show_all else "open")
    lines = [
        f"#{r['id']} {r['at']:%Y-%m-%d %H:%M:%S} {r['source']:<15} "
        f"{r['table_name']}.{r['field']} row {r['row_id']}: "
        f"crm={r['crm_value']!r} vendor={r['vendor_value']!r} ({r['reason']}) [{r['status']}]"
        for r in rows
    ]
    emit(rows, as_json, lines or ["no conflicts"])


@conflicts.command("show")
@click.argument("conflict_id", type=int)
@click.pass_context
def conflicts_show(ctx: click.Context, conflict_id: int) -> None:
    """One conflict with both values and why it was not applied."""
    emit(get_conflict(state_engine_of(ctx), conflict_id), True, [])


@conflicts.command("resolve")
@click.argument("conflict_id", type=int)
@click.option("--keep", type=click.Choice(["crm", "vendor"]), required=True, help="Whose value stands.")
@click.pass_context
def conflicts_resolve(ctx: click.Context, conflict_id: int, keep: str) -> None:
    """Apply the decision to the CRM row (audited); it then flows out like any CRM change. A CRM
    correction the vendor refused: keeping the CRM's sends it again, overriding the vendor's change."""
    decision: Keep = "vendor" if keep == "vendor" else "crm"
    kept = asyncio.run(resolve_conflict(state_engine_of(ctx), config_of(ctx), conflict_id, decision, actor()))
    click.echo(f"conflict {conflict_id} resolved: kept {keep} value {kept!r}")


@click.group()
def merges() -> None:
    """Vendor events that named several CRM contacts (one email, two contacts), waiting for a
    decision on which one is meant."""


@merges.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved reviews.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def merges_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Open merge reviews, newest first, with how many events wait on each."""
    rows = list_merges(state_engine_of(ctx), None if show_all else "open")
    lines = [
        f"#{r['id']} {r['at']:%Y-%m-%d %H:%M:%S} {r['match_key']}: contacts {r['candidates']}, "
        f"{r['waiting']} events waiting [{r['status']}"
        + (f", kept {r['kept_contact']}]" if r["kept_contact"] else "]")
        for r in rows
    ]
    emit(rows, as_json, lines or ["no merge reviews"])


@merges.command("show")
@click.argument("review_id", type=int)
@click.pass_context
def merges_show(ctx: click.Context, review_id: int) -> None:
    """One review with its candidate contacts as the CRM has them now."""
    emit(get_merge(state_engine_of(ctx), review_id), True, [])


@merges.command("resolve")
@click.argument("review_id", type=int)
@click.option("--keep", type=int, required=True, help="The contact id the vendor's events mean.")
@click.pass_context
def merges_resolve(ctx: click.Context, review_id: int, keep: int) -> None:
    """Say which contact is meant (audited): the waiting events apply to it, and so do later
    events with the same email. Merging the duplicate contacts themselves is the CRM's job."""
    released = resolve_merge(state_engine_of(ctx), review_id, keep, actor())
    click.echo(
        f"merge review {review_id} resolved: contact {keep}; {released} waiting events sent to the writer"
    )


@click.group("inbox")
def inbox_group() -> None:
    """Vendor events in the inbox: list, show, replay what could not be applied."""


@inbox_group.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(INBOX_STATUSES), help="Repeatable.")
@click.option("--source", help="Only this webhook source.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def inbox_list(
    ctx: click.Context, statuses: tuple[str, ...], source: str | None, limit: int, as_json: bool
) -> None:
    """The newest inbox events, with how each ended and why."""
    rows = inbox.list_events(state_engine_of(ctx), statuses, source, limit)
    lines = [
        f"#{r['id']} {r['received_at']:%Y-%m-%d %H:%M:%S} {r['source']:<16} {r['kind']:<28} "
        f"{r['entity']:<28} {r['status']:<9} {str(r['result'] or '')[:80]}"
        for r in rows
    ]
    emit(rows, as_json, lines or ["no inbox events"])


@inbox_group.command("show")
@click.argument("inbox_id", type=int)
@click.pass_context
def inbox_show(ctx: click.Context, inbox_id: int) -> None:
    """One event: its payload as stored, its status and result."""
    emit(inbox.get_event(state_engine_of(ctx), inbox_id), True, [])


@inbox_group.command("replay")
@click.argument("inbox_ids", type=int, nargs=-1)
@click.option(
    "--all", "every", is_flag=True, help="Every rejected, unmatched or ambiguous event (of --source)."
)
@click.option("--source", help="With --all: only this webhook source.")
@click.pass_context
def inbox_replay(ctx: click.Context, inbox_ids: tuple[int, ...], every: bool, source: str | None) -> None:
    """Send rejected, unmatched or ambiguous events through the writer again (audited)."""
    if bool(inbox_ids) == every:
        raise click.UsageError("name inbox ids or give --all")
    requeued = replay(state_engine_of(ctx), None if every else list(inbox_ids), source, actor())
    click.echo(f"{len(requeued)} inbox events requeued for the writer")
