"""`cdc-sync connectors ...` and `cdc-sync events tail`."""

import sys
import uuid
from pathlib import Path
from typing import Any

import click

from cdc_sync.admin.connect_api import ConnectApi
from cdc_sync.admin.connectors import ApplyPlan, Connectors, ConnectorSpec, load_specs
from cdc_sync.admin.onboarding import Context, Problem
from cdc_sync.cli.common import actor, config_of, emit, settings_of, state_engine_of
from cdc_sync.endpoints import connect_endpoint, kafka_client_config, registry_endpoint
from cdc_sync.errors import ConfigError
from cdc_sync.events import describe
from cdc_sync.outbound.assembly import crm_admin_engine
from cdc_sync.outbound.contracts import load_contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.pipeline import build_routes
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import ReadOptions, read_events
from cdc_sync.settings import Settings
from cdc_sync.store.audit import audit


def _connectors(settings: Settings) -> Connectors:
    return Connectors(ConnectApi(connect_endpoint(settings)), crm_admin_engine(settings))


@click.group()
def connectors() -> None:
    """Kafka Connect configs in connectors/: apply, status, snapshot."""


@connectors.command("apply")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@click.option(
    "--dry-run", is_flag=True, help="Show the diff, the checks and the tables to snapshot; change nothing."
)
@click.option(
    "--prepare", is_flag=True, help="Make the table changes the checks name (audited) before applying."
)
@click.pass_context
def connectors_apply(ctx: click.Context, path: Path | None, dry_run: bool, prepare: bool) -> None:
    """PUT connector configs (a file, or every *.json in a folder) to Kafka Connect, showing the
    diff; each captured table is checked first (primary key, REPLICA IDENTITY FULL, sync_origin and
    its trigger, a contract, a destination), and Connect validates the config."""
    settings = settings_of(ctx)
    ops, context = _connectors(settings), _onboarding_context(ctx)
    for spec in load_specs(path or settings.connectors_dir):
        plan = ops.plan(spec)
        action = "update" if plan.exists else "create"
        click.echo(f"{spec.name} ({spec.path}): {action}, {len(plan.changes)} change(s)")
        for change in plan.changes:
            click.echo(f"  {change.render()}")
        if plan.new_tables:
            click.echo(f"  newly captured, will be snapshotted: {', '.join(plan.new_tables)}")
        problems = _checked(ctx, ops, plan, context, prepare and not dry_run)
        if dry_run:
            _report_validation(ops.validate(spec), spec.name)
            _refuse_if(problems, spec.name, "would refuse")
            continue
        _refuse_if(problems, spec.name, "refused")
        signal = ops.apply(plan)
        click.echo(f"  applied; RUNNING{f'; incremental snapshot requested ({signal})' if signal else ''}")
        changes = [change.render() for change in plan.changes]
        _audit(ctx, "connectors.apply", spec.name, {"changes": changes, "snapshot": plan.new_tables})


def _onboarding_context(ctx: click.Context) -> Context:
    config = config_of(ctx)
    subjects = load_contracts(config.contracts_dir).by_subject
    return Context(set(subjects), set(build_routes(config)), settings_of(ctx).topic_prefix)


def _checked(
    ctx: click.Context, ops: Connectors, plan: ApplyPlan, context: Context, prepare: bool
) -> list[Problem]:
    """The plan's table problems, printed; with `prepare`, the fixable ones fixed first."""
    problems = ops.problems(plan, context)
    if prepare and any(problem.prepare for problem in problems):
        done = ops.prepare(problems)
        click.echo(f"  prepared: {len(done)} table change(s)")
        _audit(ctx, "connectors.prepare", plan.spec.name, {"statements": done})
        problems = ops.problems(plan, context)
    for problem in problems:
        click.echo(f"  {'!' if problem.refuses else '-'} {problem.line()}")
    return problems


def _report_validation(errors: list[str], connector: str) -> None:
    click.echo("  Connect validates the config" if not errors else "  Connect refuses the config:")
    for error in errors:
        click.echo(f"    {error}")
    if errors:
        raise ConfigError(f"{connector}: Kafka Connect refuses its config ({len(errors)} error(s) above)")


def _refuse_if(problems: list[Problem], connector: str, verb: str) -> None:
    blocking = [problem for problem in problems if problem.refuses]
    if blocking:
        tables = ", ".join(sorted({problem.table for problem in blocking}))
        raise ConfigError(f"{connector}: {verb}: {tables} not ready to capture (the lines marked !)")


def _spec_named(settings: Settings, name: str | None) -> list[ConnectorSpec]:
    specs = load_specs(settings.connectors_dir)
    chosen = [spec for spec in specs if name in (None, spec.name)]
    if not chosen:
        raise ConfigError(f"no connector named {name!r} in {settings.connectors_dir}")
    return chosen


@connectors.command("status")
@click.option("--name", help="Only this connector.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def connectors_status(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Connector and task state, and the replication slot's lag in bytes."""
    settings = settings_of(ctx)
    ops = _connectors(settings)
    report = [ops.status(spec) for spec in _spec_named(settings, name)]
    lines = []
    for item in report:
        slot = item["slot"]
        slot_text = (
            "no slot yet"
            if slot is None
            else f"slot {slot['name']} active={slot['active']} lag={slot['lag_bytes']} bytes"
        )
        tasks = ", ".join(f"task {t['id']} {t['state']}" for t in item["tasks"]) or "no tasks"
        lines.append(f"{item['name']}: {item['state']}; {tasks}; {slot_text}")
    emit(report, as_json, lines)
    if any(item["state"] != "RUNNING" for item in report):
        sys.exit(1)


@connectors.command("snapshot")
@click.argument("tables", nargs=-1, required=True)
@click.option("--name", help="Connector to signal (default: the only one, or the one capturing the tables).")
@click.pass_context
def connectors_snapshot(ctx: click.Context, tables: tuple[str, ...], name: str | None) -> None:
    """Incremental snapshot of TABLE... (schema.table) through the Debezium signal table."""
    settings = settings_of(ctx)
    qualified = [table if "." in table else f"public.{table}" for table in tables]
    spec = _spec_named(settings, name)[0]
    signal = _connectors(settings).snapshot(spec, qualified)
    click.echo(f"incremental snapshot of {', '.join(qualified)} requested from {spec.name} (signal {signal})")
    # A backfill re-sends every row of the tables: a bulk push to their destinations.
    _audit(ctx, "connectors.snapshot", spec.name, {"tables": qualified, "signal": signal})


@connectors.command("restart")
@click.argument("name")
@click.option("--task", type=click.IntRange(min=0), help="Only this task.")
@click.option("--failed", "only_failed", is_flag=True, help="Only the connector and tasks that FAILED.")
@click.pass_context
def connectors_restart(ctx: click.Context, name: str, task: int | None, only_failed: bool) -> None:
    """Restart connector NAME and its tasks (e.g. a task FAILED on a registry or database blip)."""
    _connectors(settings_of(ctx)).api.restart(name, task, only_failed)
    click.echo(f"{name}: restart requested" + (f" (task {task})" if task is not None else ""))
    _audit(ctx, "connectors.restart", name, {"task": task, "only_failed": only_failed})


@connectors.command("pause")
@click.argument("name")
@click.pass_context
def connectors_pause(ctx: click.Context, name: str) -> None:
    """Pause connector NAME: it stops reading the slot, which keeps the WAL (watch the slot lag)."""
    _connectors(settings_of(ctx)).api.pause(name)
    click.echo(f"{name}: pause requested; the slot keeps WAL until `cdc-sync connectors resume {name}`")
    _audit(ctx, "connectors.pause", name, {})


@connectors.command("resume")
@click.argument("name")
@click.pass_context
def connectors_resume(ctx: click.Context, name: str) -> None:
    """Resume connector NAME after a pause."""
    _connectors(settings_of(ctx)).api.resume(name)
    click.echo(f"{name}: resume requested")
    _audit(ctx, "connectors.resume", name, {})


def _audit(ctx: click.Context, action: str, connector: str, details: dict[str, Any]) -> None:
    audit(state_engine_of(ctx), actor(), action, f"connector:{connector}", details=details)


@click.group()
def events() -> None:
    """Look at the change stream."""


@events.command("tail")
@click.option("--topic", "topics", multiple=True, help="Topic to read (default: every CRM table topic).")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset instead of the end.")
@click.option("--max", "max_events", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option(
    "--idle-timeout", type=float, default=30.0, show_default=True, help="Stop after this many idle seconds."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document per event.")
@click.pass_context
def events_tail(
    ctx: click.Context,
    topics: tuple[str, ...],
    from_beginning: bool,
    max_events: int | None,
    idle_timeout: float,
    as_json: bool,
) -> None:
    """Print decoded change events (commits no offsets)."""
    settings = settings_of(ctx)
    options = ReadOptions(
        topics=list(topics) or [f"^{settings.topic_prefix}\\..*"],
        group_id=f"cdc-sync-tail-{uuid.uuid4()}",
        from_beginning=from_beginning,
        max_events=max_events,
        idle_timeout_s=idle_timeout,
    )
    decoder = EnvelopeDecoder(SchemaRegistry(registry_endpoint(settings)))
    for event in read_events(kafka_client_config(settings, config_of(ctx).kafka), decoder, options):
        click.echo(event.model_dump_json() if as_json else describe(event))
