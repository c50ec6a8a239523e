"""The `cdc-sync` command line. Commands parse, call one function, print."""

import logging
import os
import sys
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from cdc_sync.cli.audit import audit
from cdc_sync.cli.backfill import backfill
from cdc_sync.cli.connectors import connectors, events
from cdc_sync.cli.console import console, operators
from cdc_sync.cli.contracts import contracts
from cdc_sync.cli.dlq import dlq
from cdc_sync.cli.inbound import conflicts, inbox_group, merges, serve, writer_command
from cdc_sync.cli.keys import keys
from cdc_sync.cli.offsets import offsets
from cdc_sync.cli.outbound import db, deliveries, destinations_group, run
from cdc_sync.cli.privacy import privacy
from cdc_sync.cli.reconcile import reconcile
from cdc_sync.cli.report import report
from cdc_sync.cli.retention import prune_command
from cdc_sync.cli.sandbox import sandbox
from cdc_sync.errors import CdcSyncError, ConfigError
from cdc_sync.observability.logs import REDACTOR, configure_logging, wants_json
from cdc_sync.vendors.registry import VENDORS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cdc-sync")
@click.option(
    "--config", type=click.Path(path_type=Path), envvar="CDC_SYNC_CONFIG", help="Config file (TOML)."
)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.option("--log-json", is_flag=True, help="Log JSON lines (also CDC_SYNC_LOG_FORMAT=json).")
@click.option("--show-pii", is_flag=True, help="Print e-mails and phone numbers unmasked (audited).")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool, log_json: bool, show_pii: bool) -> None:
    """Change-data-capture sync between the CRM's PostgreSQL and vendor APIs."""
    # Secrets are redacted and personal data masked in every line (cdc_sync.observability.logs).
    configure_logging(logging.INFO if verbose else logging.WARNING, wants_json(log_json, os.environ))
    ctx.ensure_object(dict).update(config=config, show_pii=show_pii)


for command in (
    connectors,
    events,
    contracts,
    run,
    destinations_group,
    deliveries,
    db,
    sandbox,
    serve,
    writer_command,
    conflicts,
    merges,
    inbox_group,
    offsets,
    dlq,
    audit,
    report,
    reconcile,
    backfill,
    console,
    operators,
    prune_command,
    privacy,
    keys,
):
    cli.add_command(command)
for vendor in VENDORS.values():  # a vendor's own operator commands (`cdc-sync agents ...`)
    for command in vendor.commands() if vendor.commands else ():
        cli.add_command(command)


def main() -> None:
    """Entry point: known errors become one readable line and an exit code (2 usage/config, 1 other)."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        _click_error(exc)
    except (CdcSyncError, DBAPIError) as exc:
        message, code = _error_line(exc)
        click.echo(f"error: {REDACTOR.redact(message)}", err=True)  # errors may quote a vendor
        sys.exit(code)


def _click_error(exc: click.ClickException) -> None:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and exc.ctx:  # `cdc-sync dlq`: the help
        click.echo(exc.ctx.get_help(), err=True)
    elif isinstance(exc, click.UsageError):
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
    else:
        exc.show()
    sys.exit(exc.exit_code)


def _error_line(exc: CdcSyncError | DBAPIError) -> tuple[str, int]:
    if isinstance(exc, OperationalError):  # the state database is down or refuses the role
        return f"cannot reach the database: {_first_line(exc)}", 1
    if isinstance(exc, DBAPIError):  # hide_parameters keeps the row's values out of the message
        return f"the database refused: {_first_line(exc)}", 1
    return str(exc), 2 if isinstance(exc, ConfigError) else 1


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0]
