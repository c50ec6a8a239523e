"""`cdc-sync agents unmapped|map|sync` and `cdc-sync calls review|resolve|recording|reconcile`:
the call center's review queues, recording links and call detail for operators (the logic is in
`review`, `links`, `reader` and `reconcile`)."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import click

from cdc_sync.cli.common import actor, destination_of_kind, emit, state_engine_of
from cdc_sync.cli.params import DURATION, INSTANT
from cdc_sync.delivery.destinations import HttpDestination
from cdc_sync.model.config import DestinationConfig
from cdc_sync.repair.readers import VendorApi, VendorUnreadable
from cdc_sync.vendors.callcenter.links import fresh, parse_link, provider_call_id
from cdc_sync.vendors.callcenter.options import media_hosts
from cdc_sync.vendors.callcenter.plugin import VENDOR
from cdc_sync.vendors.callcenter.reader import read_agents, read_details
from cdc_sync.vendors.callcenter.reconcile import compared, repair_event
from cdc_sync.vendors.callcenter.review import (
    ambiguous_calls,
    map_agent,
    recent_calls,
    recording_of,
    repair,
    settle_call,
    store_link,
    sync_agents,
    unmapped_agents,
)
from cdc_sync.vendors.registry import build_destination

KIND = VENDOR.name  # the destination kind whose API the commands read


@click.group()
def agents() -> None:
    """Call-center agents and the CRM users they are (the mapping queue)."""


@agents.command("unmapped")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def agents_unmapped(ctx: click.Context, as_json: bool) -> None:
    """Agents with no CRM user yet, and how many of their calls wait for one."""
    rows = unmapped_agents(state_engine_of(ctx))
    lines = [
        f"{r['ext_agent_id']:<20} {r['name'] or '-':<24} {r['waiting_calls']} calls waiting" for r in rows
    ]
    emit(rows, as_json, lines or ["every agent is mapped"])


@agents.command("map")
@click.argument("ext_agent_id")
@click.argument("user")
@click.pass_context
def agents_map(ctx: click.Context, ext_agent_id: str, user: str) -> None:
    """Map agent EXT_AGENT_ID to CRM USER (an id or an e-mail); its waiting calls get that user."""
    completed = map_agent(state_engine_of(ctx), ext_agent_id, user, actor())
    click.echo(f"agent {ext_agent_id} → user {user}; {completed} waiting calls completed")


@agents.command("sync")
@click.option("--every", type=DURATION, default=None, help="Repeat at this interval (e.g. 1h) until stopped.")
@click.pass_context
def agents_sync(ctx: click.Context, every: timedelta | None) -> None:
    """Read the call center's agent list: map agents by e-mail to CRM users, queue the others."""
    name, destination = callcenter_destination(ctx)
    while True:
        found = asyncio.run(read_agents(VendorApi(name, destination)))
        counts = sync_agents(state_engine_of(ctx), found, actor())
        click.echo(
            f"{counts['agents']} agents: {counts['mapped']} mapped, {counts['unmapped']} waiting", err=True
        )
        if every is None:
            return
        time.sleep(every.total_seconds())


def callcenter_destination(ctx: click.Context) -> tuple[str, DestinationConfig]:
    return destination_of_kind(ctx, KIND)


@click.group()
def calls() -> None:
    """Calls matched to one of several contacts, for review."""


@calls.command("review")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def calls_review(ctx: click.Context, as_json: bool) -> None:
    """Calls whose number matched several contacts (the most recent of the agent's was taken)."""
    rows = ambiguous_calls(state_engine_of(ctx))
    lines = [
        f"#{r['id']} {r['ext_call_id']:<24} {r['direction'] or '-'} {r['started_at'] or '-'} "
        f"{r['caller_phone_e164'] or r['callee_phone_e164'] or '-'} → contact {r['contact_id']}"
        for r in rows
    ]
    emit(rows, as_json, lines or ["no calls to review"])


@calls.command("resolve")
@click.argument("call_id", type=int)
@click.option("--contact", "contact_id", type=int, help="Move the call to this contact (default: keep).")
@click.pass_context
def calls_resolve(ctx: click.Context, call_id: int, contact_id: int | None) -> None:
    """Settle a reviewed call: keep its contact or move it (with its timeline entry) to --contact."""
    kept = settle_call(state_engine_of(ctx), call_id, contact_id, actor())
    click.echo(f"call {call_id} is on contact {kept}")


@calls.command("recording")
@click.argument("call_id", type=int)
@click.option("--refresh", is_flag=True, help="Ask for a new link even if the stored one is still valid.")
@click.pass_context
def calls_recording(ctx: click.Context, call_id: int, refresh: bool) -> None:
    """Print a valid signed link to the call's recording, renewing it through the call center
    when it expires within 5 minutes (audited); the audio itself is never fetched."""
    engine, now = state_engine_of(ctx), datetime.now(UTC)
    call = recording_of(engine, call_id)
    if not refresh and fresh(call["recording_signed_url"], call["recording_url_expires_at"], now):
        click.echo(call["recording_signed_url"])
        return
    name, destination = callcenter_destination(ctx)
    answer = asyncio.run(
        ask_for_link(build_destination(name, destination), provider_call_id(call["ext_call_id"]))
    )
    link = parse_link(answer, now, media_hosts())
    store_link(engine, call_id, link, actor())
    click.echo(link.url)


async def ask_for_link(vendor: HttpDestination, provider_id: str) -> dict[str, Any]:
    path = f"/v1/recordings/{quote(provider_id, safe='')}/link"
    try:
        answer = await vendor.call("POST", path, {}, f"recording-link:{provider_id}:{time.time_ns()}")
    finally:
        await vendor.aclose()
    if answer.outcome.status != 200 or not isinstance(answer.json, dict):
        raise VendorUnreadable(f"{vendor.name}: POST {path} failed: {answer.outcome.summary}")
    return answer.json


@calls.command("reconcile")
@click.option("--since", type=INSTANT, default="24h", show_default=True, help="Calls heard of since then.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="The newest N.")
@click.option("--call", "call_ids", multiple=True, help="Only this call (its ext_call_id); repeatable.")
@click.option("--fix", is_flag=True, help="Merge the call center's detail in, through the inbox and writer.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def calls_reconcile(
    ctx: click.Context, since: datetime, limit: int, call_ids: tuple[str, ...], fix: bool, as_json: bool
) -> None:
    """Compare recent calls with the call center's own detail (`GET /v1/calls/{id}`): what a lost
    or late webhook left out. --fix feeds each difference in as the vendor's event (audited)."""
    engine, now = state_engine_of(ctx), datetime.now(UTC)
    rows = recent_calls(engine, since, limit, list(call_ids))
    name, destination = callcenter_destination(ctx)
    ext_ids = [str(row["ext_call_id"]) for row in rows]
    details = asyncio.run(read_details(VendorApi(name, destination), ext_ids))
    found = [compared(row, details.get(ext), now) for row, ext in zip(rows, ext_ids, strict=True)]
    differing = [f["call"] for f in found if f["state"] == "differs"]
    queued = repair(engine, [repair_event(details[c] or {}, now) for c in differing], actor()) if fix else 0
    fixed = [f"{queued} fixes queued for the writer"] if fix else []
    emit(found, as_json, [*reconcile_lines(found), *fixed])


def reconcile_lines(found: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{f['call']}: {f['state']} {', '.join(f['differences'])}".rstrip()
        for f in found
        if f["state"] != "same"
    ]
    counts = Counter(f["state"] for f in found)
    same, differ, missing = counts["same"], counts["differs"], counts["missing"]
    summary = f"{len(found)} calls compared: {same} same, {differ} differ, {missing} unknown to the vendor"
    return [*lines, summary]


COMMANDS = (agents, calls)
