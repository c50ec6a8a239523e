"""`cdc-sync console` (the operator console alone) and `cdc-sync operators add|list`."""

import sys

import click
import uvicorn
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from cdc_sync.cli.common import actor, config_of, emit, settings_of, state_engine_of
from cdc_sync.console.app import Console, create_console
from cdc_sync.console.auth import ROLES
from cdc_sync.console.passwords import MIN_LENGTH, hash_password
from cdc_sync.endpoints import kafka_client_config, registry_endpoint
from cdc_sync.store.operators import add_operator, list_operators


def console_of(ctx: click.Context) -> Console:
    settings = settings_of(ctx)
    return Console(
        state_engine_of(ctx),
        config_of(ctx),
        settings.topic_prefix,
        registry_endpoint(settings),
        kafka_client_config(settings, config_of(ctx).kafka),
    )


@click.command("console")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8010, show_default=True)
@click.pass_context
def console(ctx: click.Context, host: str, port: int) -> None:
    """The operator console alone, at http://HOST:PORT/console (`serve` also has it)."""
    app = Starlette(
        routes=[
            Route("/", lambda _: RedirectResponse("/console/")),
            Mount("/console", create_console(console_of(ctx))),
        ]
    )
    click.echo(f"cdc-sync console on http://{host}:{port}/console/", err=True)
    uvicorn.run(app, host=host, port=port, log_config=None, log_level="warning")


@click.group()
def operators() -> None:
    """Console operators: viewer reads, operator retries, pauses, resumes and resolves, admin also
    sees personal data and manages operators."""


@operators.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else asked twice).")
@click.pass_context
def operators_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add an operator, or set a new password and role (their sessions end). Audited."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < MIN_LENGTH:
        raise click.UsageError(f"the password needs at least {MIN_LENGTH} characters")
    new = add_operator(state_engine_of(ctx), name, hash_password(password), role, actor())
    click.echo(f"operator {name} ({role}) {'added' if new else 'updated'}")


@operators.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def operators_list(ctx: click.Context, as_json: bool) -> None:
    """Operators and their roles."""
    rows = list_operators(state_engine_of(ctx))
    emit(
        rows,
        as_json,
        [f"{r['name']:<24} {r['role']:<9} added by {r['created_by']}" for r in rows] or ["none"],
    )
