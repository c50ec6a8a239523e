"""`cdc-sync dlq list|show|replay|discard`: the dead-letter queue."""

import asyncio
import json
import sys
from datetime import datetime
from typing import Any

import click
from sqlalchemy import Engine

from cdc_sync.cli.common import (
    actor,
    attempt_line,
    config_of,
    confirm,
    emit,
    settings_of,
    state_engine_of,
)
from cdc_sync.cli.params import INSTANT
from cdc_sync.endpoints import registry_endpoint
from cdc_sync.errors import CdcSyncError
from cdc_sync.repair.dead_letter_rules import LetterResult, ReplayReport, replay_kind
from cdc_sync.repair.dead_letters import (
    LetterDetails,
    ReplayContext,
    ReplayRequest,
    discard,
    letter_details,
    replay,
    select_letters,
)
from cdc_sync.store.dead_letters import STATUSES, LetterQuery, StoredLetter, list_letters

_SHORT = 80
_OUTCOME_WORDS = {
    "replayed": "replayed",
    "failed_again": "failed again",
    "rejected": "still rejected",
    "halted": "halted",
    "skipped": "skipped",
}


def _engine(ctx: click.Context) -> Engine:
    return state_engine_of(ctx)


def _short(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= _SHORT else line[: _SHORT - 1] + "…"


def _summary(letter: StoredLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "at": letter.at,
        "destination": letter.destination,
        "entity": letter.entity,
        "table": letter.table,
        "kind": replay_kind(letter),
        "status": letter.status,
        "reason": letter.reason,
    }


def _summary_line(row: dict[str, Any]) -> str:
    return (
        f"#{row['id']:<6} {row['at']:%Y-%m-%d %H:%M:%S} {row['destination'] or '*':<10} "
        f"{row['entity'] or '-':<18} {row['kind']:<11} {row['status']:<9} {_short(row['reason'])}"
    )


@click.group("dlq")
def dlq() -> None:
    """Dead letters: list, show, replay or discard them."""


@dlq.command("list")
@click.option("--object", "entity", help="Only letters of this object, e.g. contact:42.")
@click.option("--destination", help="Only letters for this destination.")
@click.option("--reason", help="Only letters whose reason contains this text (case-insensitive).")
@click.option("--since", type=INSTANT, help="Only letters at or after this time (ISO 8601, or 24h, 90m ago).")
@click.option(
    "--status",
    type=click.Choice(["open", "replayed", "discarded", "all"]),
    default="open",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def dlq_list(
    ctx: click.Context,
    entity: str | None,
    destination: str | None,
    reason: str | None,
    since: datetime | None,
    status: str,
    limit: int,
    as_json: bool,
) -> None:
    """Dead letters, newest first: id, time, destination (* = every one), entity, kind, status, reason."""
    query = LetterQuery(destination, reason, since, STATUSES.get(status), limit, entity)
    rows = [_summary(letter) for letter in list_letters(_engine(ctx), query)]
    emit(rows, as_json, [_summary_line(row) for row in rows] or ["no dead letters match"])


def _position(letter: StoredLetter) -> dict[str, Any]:
    return {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "lsn": letter.lsn,
        "commit_ts": letter.commit_ts,
    }


def _details_data(details: LetterDetails) -> dict[str, Any]:
    letter = details.letter
    return {
        **_summary(letter),
        "idempotency_key": letter.idempotency_key,
        "position": _position(letter),
        "payload": letter.payload,
        "response": letter.response,
        "resolved_at": letter.resolved_at,
        "resolved_by": letter.resolved_by,
        "resolution": letter.resolution,
        "attempts": details.attempts,
        "history": details.history,
    }


def _history_line(record: dict[str, Any]) -> str:
    after, details = record["after"] or {}, record["details"] or {}
    notes = [details.get("outcome"), "fresh" if details.get("fresh") else None]
    if "delivered" in after:
        notes.append(f"{after['delivered']} delivered")
    said = ", ".join(note for note in notes if note)
    reason = details.get("reason")
    return (
        f"  {record['at']:%Y-%m-%d %H:%M:%S} {record['actor']} {record['action']} -> {after.get('status')}"
        + (f" ({said})" if said else "")
        + (f": {reason}" if reason else "")
    )


def _details_lines(data: dict[str, Any]) -> list[str]:
    where, target = data["position"], data["destination"] or "every destination"
    lines = [
        f"dead letter {data['id']} [{data['status']}] {data['kind']} for {target}",
        f"  at          {data['at']}",
        f"  entity      {data['entity'] or '-'} ({data['table'] or '-'})",
        f"  reason      {data['reason']}",
        f"  position    {where['topic'] or '-'} partition {where['partition']} offset {where['offset']} "
        f"lsn {where['lsn']} committed {where['commit_ts']}",
        f"  key         {data['idempotency_key'] or '-'}",
        f"  response    {json.dumps(data['response'], default=str) if data['response'] else '-'}",
    ]
    if data["resolved_at"]:
        resolution = json.dumps(data["resolution"], default=str)
        lines.append(f"  resolved    {data['resolved_at']} by {data['resolved_by']}: {resolution}")
    lines += ["payload:", *("  " + line for line in json.dumps(data["payload"], indent=2).splitlines())]
    lines += [f"attempts ({len(data['attempts'])}):", *(f"  {attempt_line(row)}" for row in data["attempts"])]
    lines += [f"replay history ({len(data['history'])}):", *map(_history_line, data["history"])]
    return lines


@dlq.command("show")
@click.argument("letter_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def dlq_show(ctx: click.Context, letter_id: int, as_json: bool) -> None:
    """One letter in full: payload, reason, vendor response, position, every attempt, replays."""
    data = _details_data(letter_details(_engine(ctx), letter_id))
    emit(data, as_json, _details_lines(data))


def _result_data(result: LetterResult) -> dict[str, Any]:
    return {
        "letter": result.letter,
        "entity": result.entity,
        "destination": result.destination,
        "outcome": result.outcome,
        "status": result.status,
        "delivered": result.delivered,
        "reason": result.reason,
        "new_letters": list(result.new_letters),
    }


def _result_line(row: dict[str, Any]) -> str:
    delivered = f" ({row['delivered']} delivered)" if row["outcome"] in ("replayed", "failed_again") else ""
    reason = f": {row['reason']}" if row["reason"] else ""
    return (
        f"#{row['letter']} {row['entity'] or '-'} -> {row['destination'] or 'every destination'}: "
        f"{_OUTCOME_WORDS[row['outcome']]}{delivered}{reason}"
    )


def _report_data(report: ReplayReport) -> dict[str, Any]:
    return {
        "results": [_result_data(r) for r in report.results],
        "counts": report.counts(),
        "halted": report.halted,
    }


def _report_lines(data: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{_OUTCOME_WORDS[outcome]} {n}" for outcome, n in data["counts"].items())
    return [*map(_result_line, data["results"]), counts]


def _run(context: ReplayContext, request: ReplayRequest, letters: list[StoredLetter]) -> ReplayReport:
    if len(letters) == 1:
        return asyncio.run(replay(context, request, letters))
    with click.progressbar(length=len(letters), label="replaying dead letters", file=sys.stderr) as bar:
        return asyncio.run(replay(context, request, letters, bar.update))


@dlq.command("replay")
@click.argument("letter_ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--all", "every_open", is_flag=True, help="Every open letter (of --destination).")
@click.option("--destination", help="Only letters for this destination.")
@click.option("--fresh", is_flag=True, help="Send the CRM row as it is now, not the stored payload.")
@click.option("--yes", is_flag=True, help="Replay --all without asking.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def dlq_replay(
    ctx: click.Context,
    letter_ids: tuple[int, ...],
    every_open: bool,
    destination: str | None,
    fresh: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Send open letters again, oldest first and in order per entity (audited).

    Vendor-refused deliveries are re-sent as they were (same idempotency key). Rejected change
    events are planned again from their stored payload, without the contract check (it cannot
    be re-checked offline: replaying says the contract is fixed or the event accepted). Poison
    records are decoded again from their stored bytes and checked as live changes are. --fresh
    sends the CRM row as it is now instead. A letter rejected again stays open.
    """
    if bool(letter_ids) == every_open:
        raise click.UsageError("name the dead letters to replay (IDs) or pass --all, not both")
    settings = settings_of(ctx)
    context = ReplayContext(
        _engine(ctx), config_of(ctx), actor(), settings.topic_prefix, registry_endpoint(settings)
    )
    request = ReplayRequest(letter_ids, every_open, destination, fresh)
    letters = select_letters(context, request)
    if not letters:
        emit(_report_data(ReplayReport(())), as_json, ["no open dead letters to replay"])
        return
    if every_open:
        confirm(f"replay {len(letters)} open dead letters?", yes)
    report = _run(context, request, letters)
    data = _report_data(report)
    emit(data, as_json, _report_lines(data))
    if report.halted:
        halted_at = report.results[-1].letter
        raise CdcSyncError(f"replay halted at dead letter {halted_at}; it and the letters after it stay open")
    unsent = [r.letter for r in report.results if r.outcome != "replayed"]
    if letter_ids and unsent:  # scripts must see that a named letter did not go through
        raise CdcSyncError(f"dead letter(s) {' '.join(map(str, unsent))} did not go through; see above")


@dlq.command("discard")
@click.argument("letter_id", type=int)
@click.option("--reason", required=True, help="Why it is given up (kept with the letter and audited).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def dlq_discard(ctx: click.Context, letter_id: int, reason: str, as_json: bool) -> None:
    """Give a letter up: it is closed as `discarded`, with the reason (audited)."""
    letter = discard(_engine(ctx), letter_id, reason, actor())
    resolved = {
        "resolved_at": letter.resolved_at,
        "resolved_by": letter.resolved_by,
        "resolution": letter.resolution,
    }
    data = {**_summary(letter), **resolved}
    emit(data, as_json, [f"dead letter {letter_id} discarded: {reason}"])
