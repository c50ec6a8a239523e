"""`cdc-sync run`, `destinations ...`, `deliveries`, `db migrate`."""

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime, timedelta

import click
import uvloop

from cdc_sync.admin.crm_grants import grant_crm
from cdc_sync.cli.common import (
    actor,
    attempt_line,
    config_of,
    emit,
    metrics_options,
    serve_metrics,
    settings_of,
    state_engine_of,
)
from cdc_sync.cli.params import INSTANT
from cdc_sync.cli.reconcile import Progress
from cdc_sync.outbound.assembly import build_outbound, crm_admin_engine, state_engine
from cdc_sync.outbound.reconcile_schedule import scheduled_reconcile
from cdc_sync.repair import destinations as destination_ops
from cdc_sync.repair.rollout import RolloutRequest, widen
from cdc_sync.store import destinations
from cdc_sync.store.ledger import LogQuery, sync_log
from cdc_sync.store.migrate import current, head, history, migrate


@click.command("run")
@metrics_options
@click.pass_context
def run(ctx: click.Context, metrics_port: int | None) -> None:
    """Outbound: consume CRM changes, check, map and deliver them (until SIGTERM; drains cleanly).
    /metrics, /healthz and /readyz (ready: holding partitions, the state database answering) on
    the admin listener, [consumer] metrics_port (9108) unless --metrics-port."""
    settings, config = settings_of(ctx), config_of(ctx)
    outbound = build_outbound(settings, config)
    if port := metrics_port or config.consumer.metrics_port:
        serve_metrics(ctx, port, "set consumer.metrics_port or --metrics-port", outbound.runner.not_ready)
    logging.getLogger(__name__).info("consuming %s", ", ".join(outbound.runner.topics))
    click.echo(
        f"cdc-sync run: consuming {len(outbound.runner.topics)} topics as {config.consumer.group_id}",
        err=True,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            async with scheduled_reconcile(settings, config, stop):
                await outbound.runner.run(stop)
        finally:
            await outbound.aclose()

    uvloop.run(main())  # libuv's loop: a fraction of asyncio's cost per callback and socket read
    click.echo("cdc-sync run: drained and stopped", err=True)


@click.group("destinations")
def destinations_group() -> None:
    """List, pause, resume and roll out destinations."""


@destinations_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def destinations_list(ctx: click.Context, as_json: bool) -> None:
    """Each destination with its state, rollout share and the number of held deliveries."""
    config, engine = config_of(ctx), state_engine_of(ctx)
    found = destinations.statuses(engine, list(config.destinations))
    shares = destinations.rollout_shares(engine, config.destinations)
    rows = [
        {
            "name": s.name,
            "kind": config.destinations[s.name].kind,
            "state": s.state,
            "rollout": shares[s.name],
            "held": s.held,
            "reason": s.reason,
        }
        for s in found
    ]
    lines = [
        f"{r['name']:<12} {r['kind']:<10} {r['state']:<7} rollout={r['rollout']:g} held={r['held']} "
        f"{r['reason'] or ''}"
        for r in rows
    ]
    emit(rows, as_json, lines)


@destinations_group.command("pause")
@click.argument("name")
@click.option("--reason", default="paused by operator", show_default=True)
@click.pass_context
def destinations_pause(ctx: click.Context, name: str, reason: str) -> None:
    """Stop sending to NAME; its deliveries are held durably, in order."""
    engine = state_engine_of(ctx)
    destination_ops.pause(engine, config_of(ctx), name, actor(), reason)
    click.echo(f"{name}: paused ({reason})")


@destinations_group.command("resume")
@click.argument("name")
@click.pass_context
def destinations_resume(ctx: click.Context, name: str) -> None:
    """Replay NAME's held deliveries in order (no duplicates), then resume live delivery."""
    engine = state_engine_of(ctx)
    config = config_of(ctx)
    held = next(s.held for s in destinations.statuses(engine, [name])) if name in config.destinations else 0
    with click.progressbar(range(held), label=f"replaying {name}", file=sys.stderr) as bar:
        report = asyncio.run(destination_ops.resume(engine, config, name, actor(), bar.update))
    click.echo(f"{name}: resumed after replaying {report.replayed} held deliveries")


@destinations_group.command("rollout")
@click.argument("name")
@click.argument("share", type=click.FloatRange(0, 1, min_open=True))
@click.pass_context
def destinations_rollout(ctx: click.Context, name: str, share: float) -> None:
    """Widen NAME's gray release to SHARE of the contacts (0.5, 1.0) and push those it brings in."""
    request = RolloutRequest(name, share, actor(), settings_of(ctx).topic_prefix)
    with Progress() as progress:
        report = asyncio.run(widen(state_engine_of(ctx), config_of(ctx), request, progress))
    click.echo(
        f"{name}: rolled out {report.before:g} → {report.after:g}; pushed {report.added} contacts"
        + (
            f", {report.not_delivered} not delivered (see dlq list / destinations list)"
            if report.not_delivered
            else ""
        )
    )
    if report.not_delivered:
        sys.exit(1)


@click.command("deliveries")
@click.option("--object", "entity", help="Only this object, e.g. contact:42.")
@click.option("--destination", help="Only this destination.")
@click.option("--since", type=INSTANT, help="Only attempts at or after this time (ISO 8601, or 24h ago).")
@click.option("--last", type=click.IntRange(min=1), help="Only attempts of the last N minutes.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def deliveries(
    ctx: click.Context,
    entity: str | None,
    destination: str | None,
    since: datetime | None,
    last: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """The sync log: delivery attempts by time and object, newest first."""
    start = datetime.now(UTC) - timedelta(minutes=last) if last else since
    rows = sync_log(state_engine_of(ctx), LogQuery(entity, destination, start, limit))
    emit(rows, as_json, [attempt_line(row) for row in rows])


@click.group("db")
def db() -> None:
    """cdc-sync's own state in schema cdc_sync."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Create or upgrade the cdc_sync schema and grant the service roles their tables
    (idempotent), as the schema's owner: CDC_SYNC_OWNER_DSN, else CDC_SYNC_CRM_DSN."""
    applied = migrate(state_engine(settings_of(ctx), "owner"))
    click.echo(f"applied migrations: {applied}" if applied else "schema is up to date")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """The schema's revision, and whether it is this cdc-sync's newest (exit 1 if not)."""
    with state_engine(settings_of(ctx)).connect() as conn:
        found = current(conn)
    newest = head()
    click.echo(f"{found or 'none (not migrated)'}{' (head)' if found == newest else f'; head is {newest}'}")
    if found != newest:
        sys.exit(1)


@db.command("history")
def db_history() -> None:
    """The schema's revisions, oldest first."""
    for revision, doc in history():
        click.echo(f"{revision}  {doc}")


@db.command("grant")
@click.option("--print", "print_only", is_flag=True, help="Print the statements for the DBA instead.")
@click.pass_context
def db_grant(ctx: click.Context, print_only: bool) -> None:
    """Grant the service roles the CRM tables they need, and nothing else (idempotent), as the
    CRM's owner (CDC_SYNC_CRM_ADMIN_DSN): SELECT for lookups, INSERT/UPDATE on the tables the
    vendors' handlers and operator commands write."""
    statements = grant_crm(crm_admin_engine(settings_of(ctx)), apply=not print_only)
    click.echo(
        "\n".join(f"{s};" for s in statements) if print_only else f"granted: {len(statements)} statements"
    )
