"""`cdc-sync privacy export|erase|correct contact:N`: data-subject requests (`cdc_sync.privacy`)."""

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from cdc_sync.cli.common import actor, config_of, confirm, emit, state_engine_of
from cdc_sync.privacy import flows
from cdc_sync.privacy.requests import contact_of

EMAIL = click.option("--email", help="The contact's e-mail, when the CRM owner has already deleted its row.")
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _context(ctx: click.Context) -> flows.PrivacyContext:
    config = config_of(ctx)
    return flows.PrivacyContext(state_engine_of(ctx), config.destinations, config.authority, actor())


@click.group()
def privacy() -> None:
    """Data-subject requests for one CRM contact: export, erase, correct (each audited)."""


@privacy.command("export")
@click.argument("contact")
@EMAIL
@click.option("--out", type=click.Path(path_type=Path), help="Write the JSON here, unmasked (mode 0600).")
@click.pass_context
def export_command(ctx: click.Context, contact: str, email: str | None, out: Path | None) -> None:
    """Everything held about CONTACT (contact:<id>) as JSON: the CRM row, cdc-sync's own rows and
    each destination's copy. With --out the file holds the data unmasked (it is the person's
    copy); on the terminal it is masked unless --show-pii. Audited as privacy.export."""
    found = flows.export(_context(ctx), contact_of(contact), email)
    if out is None:
        emit(found, True, [])
        return
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(found, file, indent=2, default=str)
    click.echo(f"{found['subject']}: written to {out} ({_summary(found['vendors'])})")


@privacy.command("erase")
@click.argument("contact")
@EMAIL
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@JSON
@click.pass_context
def erase_command(ctx: click.Context, contact: str, email: str | None, yes: bool, as_json: bool) -> None:
    """Erase CONTACT at every destination (for good, by each vendor's own permanent deletion; a
    vendor whose API has none is reported as not supported), then in cdc-sync's tables (work
    rows deleted, ledger and alerts kept without personal data). Refused while the contact has
    changes in flight. Resumable: run it again to continue the steps that failed (exit 1 until
    all are done). Audited as privacy.erase. The CRM row itself is the CRM owner's to erase."""
    contact_id = contact_of(contact)
    confirm(f"Erase contact:{contact_id} at every destination and in cdc-sync's tables, for good?", yes)
    report = flows.erase(_context(ctx), contact_id, email)
    emit(report, as_json, [_step_line(name, found) for name, found in report["steps"].items()])
    if not report["finished"]:
        sys.exit(1)


@privacy.command("correct")
@click.argument("contact")
@click.argument("changes", nargs=-1, required=True)
@JSON
@click.pass_context
def correct_command(ctx: click.Context, contact: str, changes: tuple[str, ...], as_json: bool) -> None:
    """Rectify CONTACT's personal data in the CRM (CHANGES as field=value; an empty value clears
    it): the outbound path delivers it to every destination like any CRM change. Only fields the
    CRM owns; refused while the contact has changes in flight. Audited as privacy.correct."""
    done = flows.correct(_context(ctx), contact_of(contact), list(changes))
    emit(
        done,
        as_json,
        [f"{done['subject']}: corrected {', '.join(done['fields'])}; delivered by the outbound path"],
    )


def _step_line(name: str, found: dict[str, Any]) -> str:
    detail = found.get("detail") or ", ".join(f"{t} {n}" for t, n in (found.get("rows") or {}).items() if n)
    return f"{name:<12} {found['outcome']:<14} {detail}".rstrip()


def _summary(vendors: dict[str, Any]) -> str:
    return ", ".join(f"{name} {found['outcome']}" for name, found in vendors.items())
