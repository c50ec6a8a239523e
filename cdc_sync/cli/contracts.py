"""`cdc-sync contracts check|accept`: the registry's schemas against schemas/."""

import sys

import click

from cdc_sync.admin.contracts import accept_latest, check_contracts
from cdc_sync.cli.common import config_of, emit, settings_of
from cdc_sync.endpoints import registry_endpoint
from cdc_sync.outbound.registry import SchemaRegistry


@click.group()
def contracts() -> None:
    """Versioned data contracts in schemas/<subject>/."""


@contracts.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def contracts_check(ctx: click.Context, as_json: bool) -> None:
    """Every contracted subject's latest registered schema against its accepted versions."""
    registry = SchemaRegistry(registry_endpoint(settings_of(ctx)))
    report = check_contracts(registry, config_of(ctx).contracts_dir, settings_of(ctx).topic_prefix)
    lines = [f"{r['subject']:<40} {r['verdict']:<12} {r['detail']}" for r in report]
    emit(report, as_json, lines)
    if any(r["verdict"] not in ("accepted", "uncontracted") for r in report):
        sys.exit(1)


@contracts.command("accept")
@click.argument("subject")
@click.pass_context
def contracts_accept(ctx: click.Context, subject: str) -> None:
    """Write SUBJECT's latest registered row schema as the next contract version."""
    registry = SchemaRegistry(registry_endpoint(settings_of(ctx)))
    path = accept_latest(registry, config_of(ctx).contracts_dir, subject)
    click.echo(f"{subject}: accepted as {path}" if path else f"{subject}: latest schema is already accepted")
