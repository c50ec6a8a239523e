"""`cdc-sync reconcile`: the CRM against each vendor, read through the vendor's API."""

import asyncio
import sys
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

import click

from cdc_sync.cli.common import actor, config_of, emit, settings_of, state_engine_of
from cdc_sync.repair.reconcile import EXTRAS_KEPT, DestinationReport, FixSummary, RecordComparison
from cdc_sync.repair.reconciler import Reconciler, ReconcileRequest

LISTED = 50  # differences listed per destination in text output; --json lists every one


@click.command("reconcile")
@click.option("--destination", "names", multiple=True, metavar="NAME", help="Only NAME (repeatable).")
@click.option(
    "--fix",
    is_flag=True,
    help="Push corrections for missing and differing records through the normal delivery path.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    help="Compare a random sample of N CRM contacts instead of all (no extra-detection).",
)
@click.option(
    "--object",
    "objects",
    multiple=True,
    callback=lambda ctx, param, values: tuple(_contact_id(value) for value in values),
    metavar="contact:ID",
    help="Only this contact (repeatable); compared key by key, no extra-detection.",
)
@click.option("--yes", is_flag=True, help="Do not ask before a fix that touches more than one record.")
@click.option("--fail-on-diff", is_flag=True, help="Exit 1 if differences remain (after --fix: those left).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, field values included.")
@click.pass_context
def reconcile(
    ctx: click.Context,
    names: tuple[str, ...],
    fix: bool,
    sample: int | None,
    objects: tuple[int, ...],
    yes: bool,
    fail_on_diff: bool,
    as_json: bool,
) -> None:
    """Compare CRM contacts with each vendor: records missing at the vendor, extra there, or
    differing (which fields), and the difference rate. Webhook destinations cannot be read back.

    --fix pushes the CRM's current rows again for missing and differing records (audited,
    re-read afterwards); extra records are only reported. Exits 0 even when differences are
    found, unless --fail-on-diff.
    """
    settings, config = settings_of(ctx), config_of(ctx)
    engine = state_engine_of(ctx)
    with Progress() as progress:
        confirm = Confirm(yes, progress)
        reconciler = Reconciler(engine, config, settings.topic_prefix, progress=progress, confirm=confirm)
        reports = asyncio.run(reconciler.run(ReconcileRequest(names, fix, sample, actor(), objects)))
    lines = [line for report in reports for line in report_lines(report)]
    emit([report.model_dump(mode="json") for report in reports], as_json, lines)
    if confirm.refused:
        refused = "; ".join(confirm.refused)
        raise click.UsageError(f"nothing pushed to {refused}: a bulk fix needs --yes or a terminal to ask on")
    if fail_on_diff and any(differences_left(report) for report in reports):
        sys.exit(1)


def _contact_id(value: str) -> int:
    kind, _, number = value.partition(":")
    if kind != "contact" or not number.isdigit():
        raise click.BadParameter(f"{value!r} is not contact:<id>", param_hint="--object")
    return int(number)


class Progress:
    """A progress bar per stage on stderr (click draws bars only on a terminal)."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._bars = ExitStack()
        self._advance: Callable[[int], None] | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self._stage or self._advance is None:
            self.close()
            self._stage = stage
            bar = click.progressbar(length=max(total or done, 1), label=stage, file=sys.stderr, show_pos=True)
            self._advance = self._bars.enter_context(bar).update
        self._advance(done)

    def close(self) -> None:
        self._bars.close()
        self._advance, self._stage = None, None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Confirm:
    """Asks before a bulk fix (more than one record); refuses without a terminal unless --yes."""

    def __init__(self, yes: bool, progress: Progress) -> None:
        self._yes, self._progress = yes, progress
        self.refused: list[str] = []

    def __call__(self, report: DestinationReport, records: int) -> bool:
        if self._yes:
            return True
        if not sys.stdin.isatty():
            self.refused.append(f"{report.destination} ({plural(records, 'record')})")
            return False
        self._progress.close()
        click.echo("\n".join(report_lines(report)), err=True)
        what = f"{plural(records, 'record')} to {report.destination}"
        question = f"push corrections for {what} (a bulk audience push)?"
        return click.confirm(question, err=True)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def differences_left(report: DestinationReport) -> int:
    if report.fix is not None and report.fix.remaining is not None:
        return report.fix.remaining
    return report.different


def report_lines(report: DestinationReport) -> list[str]:
    """Text for people: entity ids and field names, no personal values (those are in --json)."""
    if not report.reconcilable:
        return [f"{report.destination} ({report.kind}): {report.note}"]
    counts = report.counts
    scope = f"{report.sample} contacts, key by key" if report.sample else "all contacts"
    lines = [
        f"{report.destination} ({report.kind}, {scope}): compared {report.compared} · "
        f"match {counts['match']} · missing {counts['missing']} · extra {counts['extra']} · "
        f"differing {counts['differing']} · difference rate {report.difference_rate:.3%}"
    ]
    lines += [difference_line(comparison) for comparison in report.differences[:LISTED]]
    if report.different > LISTED:
        lines.append(f"  … and {report.different - LISTED} more (--json lists every one)")
    if report.not_expected:
        lines.append(f"  {report.not_expected} CRM contacts never sent (no or invalid email), not compared")
    lines += [f"  {EXTRAS_KEPT}"] if counts["extra"] else []
    lines += ["  extra records are only looked for in full runs (no --sample)"] if report.sample else []
    return lines + (fix_lines(report.fix) if report.fix else [])


def difference_line(comparison: RecordComparison) -> str:
    who = ", ".join(comparison.entities) or comparison.key
    if comparison.result == "extra":
        return f"  extra      {comparison.label or comparison.key}: not a CRM contact"
    if comparison.result == "missing":
        return f"  missing    {who}"
    return f"  differing  {who}: {', '.join(difference.field for difference in comparison.fields)}"


def fix_lines(fix: FixSummary) -> list[str]:
    if not fix.confirmed:
        return [f"  fix: {fix.note or 'not confirmed'}; nothing pushed"]
    if not fix.records:
        return ["  fix: nothing to push"]
    lines = [
        f"  fix: pushed {plural(fix.records, 'record')} · {fix.fixed} match now · "
        f"{fix.failed} dead-lettered · {fix.held} held (destination paused) · "
        f"{plural(fix.remaining or 0, 'difference')} left, "
        f"difference rate after fix {fix.difference_rate_after or 0:.3%}"
    ]
    if fix.failed:
        lines.append("  dead-lettered corrections: see `cdc-sync dlq list`")
    if fix.consent_kept:
        lines.append(
            f"  status not pushed for {plural(fix.consent_kept, 'contact')} opted out at the vendor: "
            "an unsubscribe wins; settle it in the CRM"
        )
    return lines
