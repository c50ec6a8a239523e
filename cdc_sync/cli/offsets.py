"""`cdc-sync offsets show` and `cdc-sync offsets rewind`."""

from datetime import UTC, datetime

import click

from cdc_sync.admin.consumer_groups import OffsetsReport, require_idle
from cdc_sync.admin.kafka_admin import KafkaOffsets, apply_rewind, preview_rewind, read_offsets
from cdc_sync.admin.offsets import (
    InvalidRewind,
    Move,
    RewindPlan,
    RewindRequest,
    Target,
    destinations_for,
    routed_topics,
    target_of,
)
from cdc_sync.cli.common import actor, config_of, confirm, emit, settings_of, state_engine_of
from cdc_sync.cli.params import INSTANT
from cdc_sync.endpoints import kafka_client_config
from cdc_sync.outbound.pipeline import build_routes


@click.group()
def offsets() -> None:
    """Committed offsets of a consumer group: show lag, rewind to re-deliver."""


@offsets.command("show")
@click.option("--group", help="Consumer group (default: consumer.group_id of the config).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def offsets_show(ctx: click.Context, group: str | None, as_json: bool) -> None:
    """Committed and end offset, and lag, per partition.

    Also the group's state and its active members.

    Covers the topics the group committed on and, for the configured group, every topic the
    config routes to a destination ("-": nothing committed yet).
    """
    settings, config = settings_of(ctx), config_of(ctx)
    group = group or config.consumer.group_id
    routed = routed_topics(settings.topic_prefix, build_routes(config))
    report = read_offsets(
        KafkaOffsets(kafka_client_config(settings, config.kafka)),
        group,
        routed if group == config.consumer.group_id else [],
    )
    emit(report.as_dict(), as_json, _report_lines(report))


def _report_lines(report: OffsetsReport) -> list[str]:
    group = report.group
    lines = [f"group {group.group}: state {group.state}, {len(group.members)} active member(s)"]
    lines += [
        f"  member {m.member_id} on {m.host.lstrip('/')}: {', '.join(m.assignment)}" for m in group.members
    ]
    lines.append(f"{'TOPIC':<40} {'PARTITION':>9} {'COMMITTED':>10} {'END':>10} {'LAG':>8}")
    lines += [
        f"{r.topic:<40} {r.partition:>9} {_text(r.committed):>10} {_text(r.end):>10} {_text(r.lag):>8}"
        for r in report.rows
    ]
    uncommitted = sum(1 for r in report.rows if r.committed is None)
    lines.append(f"total lag: {report.total_lag} ({uncommitted} partition(s) with nothing committed yet)")
    lines += [f"missing topic (not in Kafka yet): {topic}" for topic in report.missing_topics]
    return lines


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)


@offsets.command("rewind")
@click.option("--topic", required=True, help="Topic, e.g. crm.public.contacts.")
@click.option("--partition", type=click.IntRange(min=0), help="Only this partition (default: all).")
@click.option("--to-offset", type=int, help="Move to this offset (must lie in the log: start..end).")
@click.option(
    "--to-time", type=INSTANT, help="Move to the first event at or after this time (ISO 8601, or 2h ago)."
)
@click.option("--to-earliest", is_flag=True, help="Move to the first event still in the log.")
@click.option("--shift", type=int, help="Move N events back from the committed offset, e.g. --shift -100.")
@click.option("--group", help="Consumer group (default: consumer.group_id of the config).")
@click.option(
    "--dry-run", is_flag=True, help="Show the impact (events re-read, destinations); change nothing."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def offsets_rewind(
    ctx: click.Context,
    topic: str,
    partition: int | None,
    to_offset: int | None,
    to_time: datetime | None,
    to_earliest: bool,
    shift: int | None,
    group: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Move a group's offsets back to re-deliver events.

    Give exactly one of --to-offset, --to-time, --to-earliest, --shift. The group must have no
    active members (stop `cdc-sync run` first). Prints the impact first: per partition
    from → to, events re-read (or skipped, for a forward --to-offset/--to-time) and the
    destinations that receive them again. Every rewind is written to the audit log.
    """
    settings, config = settings_of(ctx), config_of(ctx)
    target = _target(to_offset, to_time, to_earliest, shift)
    request = RewindRequest(group or config.consumer.group_id, topic, target, partition)
    kafka = KafkaOffsets(kafka_client_config(settings, config.kafka))
    plan = preview_rewind(
        kafka, request, destinations_for(topic, settings.topic_prefix, build_routes(config))
    )
    if dry_run:
        emit({**plan.as_dict(), "applied": False}, as_json, [*_plan_lines(plan), "dry run: nothing changed"])
        return
    require_idle(plan.group)
    if not yes:  # the impact first; on stderr with --json, so stdout stays one document
        click.echo("\n".join(_plan_lines(plan)), err=as_json)
    confirm(f"rewind group {plan.group.group} on {plan.topic}?", yes)
    engine = state_engine_of(ctx)
    apply_rewind(kafka, engine, plan, actor())
    done = f"rewound {len(plan.moves)} partition(s) of {plan.topic} for group {plan.group.group} (audited)"
    emit({**plan.as_dict(), "applied": True}, as_json, [done] if not yes else [*_plan_lines(plan), done])


def _target(to_offset: int | None, to_time: datetime | None, to_earliest: bool, shift: int | None) -> Target:
    try:
        return target_of(to_offset, to_time, to_earliest, shift, datetime.now(UTC))
    except InvalidRewind as exc:
        raise click.UsageError(str(exc)) from exc


def _plan_lines(plan: RewindPlan) -> list[str]:
    lines = [f"rewind group {plan.group.group} on {plan.topic} ({plan.target.describe()}):"]
    lines += [f"  partition {m.partition}: {_text(m.committed)} → {m.to}  {_effect(m)}" for m in plan.moves]
    feeds = ", ".join(plan.destinations) or "no destination"
    lines.append(
        f"total: {plan.events_reread} event(s) re-read, {plan.events_skipped} skipped; feeds {feeds}"
    )
    return lines + [f"warning: {warning}" for warning in plan.warnings]


def _effect(move: Move) -> str:
    effect = f"skips {move.skipped} event(s)" if move.skipped else f"re-reads {move.reread} event(s)"
    return (
        effect
        if move.committed is not None
        else f"{effect} (nothing committed yet: run starts at {move.start})"
    )
