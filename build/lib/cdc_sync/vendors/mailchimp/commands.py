"""`cdc-sync segments list|sync` and `cdc-sync campaigns send|status`: CRM segments pushed as
Mailchimp static segments (audited, count-checked), and sends from them (audited). The logic is
in `segments`, `segment_sync`, `segment_store` and `campaigns`."""

import asyncio
import sys
from typing import Any

import click
from sqlalchemy import Engine

from cdc_sync.cli.common import actor, destination_of_kind, emit, state_engine_of
from cdc_sync.errors import ConfigError
from cdc_sync.model.config import DestinationConfig
from cdc_sync.repair.readers import VendorApi
from cdc_sync.store.audit import audit
from cdc_sync.vendors.mailchimp.campaigns import campaign_status, send_campaign
from cdc_sync.vendors.mailchimp.options import MailchimpOptions
from cdc_sync.vendors.mailchimp.plugin import VENDOR
from cdc_sync.vendors.mailchimp.segment_store import (
    CrmSegment,
    crm_segments,
    link_segment,
    member_emails,
    record_push,
)
from cdc_sync.vendors.mailchimp.segment_sync import push_segment, segment_id_of

DESTINATION = click.option("--destination", help="The mailchimp destination (default: the config's one).")


def _marketing(ctx: click.Context, name: str | None) -> tuple[str, DestinationConfig, str]:
    name, destination = destination_of_kind(ctx, VENDOR.name, name)
    list_id = MailchimpOptions.of(destination).list_id
    if not list_id:
        raise ConfigError(f"destination {name}: a mailchimp destination needs list_id")
    return name, destination, list_id


@click.group()
def segments() -> None:
    """CRM segments and the marketing platform's static segments they are pushed to."""


@segments.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def segments_list(ctx: click.Context, as_json: bool) -> None:
    """The CRM's segments, their member counts and platform segment ids."""
    found = crm_segments(state_engine_of(ctx))
    rows = [s.__dict__ for s in found]
    lines = [f"{s.name:<32} {s.members:>8} members  platform id {s.external_id or '-'}" for s in found]
    emit(rows, as_json, lines or ["no segments"])


@segments.command("sync")
@click.argument("names", nargs=-1)
@DESTINATION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def segments_sync(ctx: click.Context, names: tuple[str, ...], destination: str | None, as_json: bool) -> None:
    """Push the CRM segments NAMES (default: all): the platform's segment (created on first use)
    gets exactly the CRM's members, in calls of ≤ 500 adds and removes; its count is checked
    against the CRM's (`segment_tolerance`) and a difference raises an alert (exit 1). Audited.
    Safe to re-run: only what still differs is pushed."""
    engine = state_engine_of(ctx)
    name, config, list_id = _marketing(ctx, destination)
    pushes = []
    for segment in crm_segments(engine, list(names) or None):
        pushed = asyncio.run(_push(engine, name, config, list_id, segment))
        record_push(engine, actor(), name, segment, pushed)
        pushes.append({"segment": segment.name, **pushed})
    emit(pushes, as_json, [_push_line(p) for p in pushes] or ["no segments"])
    if not all(p["counts_agree"] for p in pushes):
        sys.exit(1)


async def _push(
    engine: Engine, name: str, config: DestinationConfig, list_id: str, segment: CrmSegment
) -> dict[str, Any]:
    emails = member_emails(engine, segment)

    async def link(external_id: str) -> None:
        await asyncio.to_thread(link_segment, engine, segment, external_id, config.system)

    api = VendorApi(name, config)
    try:
        segment_id = await segment_id_of(api, list_id, segment, link)
        tolerance = MailchimpOptions.of(config).segment_tolerance
        with click.progressbar(length=max(len(emails), 1), label=segment.name, file=sys.stderr) as bar:
            return await push_segment(api, list_id, segment_id, emails, tolerance, bar.update)
    finally:
        await api.aclose()


def _push_line(push: dict[str, Any]) -> str:
    check = "counts agree" if push["counts_agree"] else "COUNTS DIFFER (alert raised)"
    return (
        f"{push['segment']}: +{push['added']} -{push['removed']} ({push['refused']} refused); "
        f"{push['vendor_count']} on the platform, {push['crm_count']} in the CRM: {check}"
    )


@click.group()
def campaigns() -> None:
    """Campaigns sent to CRM segments."""


@campaigns.command("send")
@click.argument("segment")
@click.option(
    "--campaign-template", "template_id", type=int, required=True, help="The platform's template id."
)
@click.option("--subject", required=True, help="The subject line.")
@click.option("--from-name", required=True, help="The sender's name.")
@click.option("--reply-to", required=True, help="The reply-to address.")
@click.option("--title", help="The campaign's name on the platform (default: the segment and subject).")
@DESTINATION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def campaigns_send(
    ctx: click.Context,
    segment: str,
    template_id: int,
    subject: str,
    from_name: str,
    reply_to: str,
    title: str | None,
    destination: str | None,
    as_json: bool,
) -> None:
    """Send a regular campaign to the CRM segment SEGMENT (pushed by `segments sync` first), and
    print its status. Audited."""
    engine = state_engine_of(ctx)
    name, config, list_id = _marketing(ctx, destination)
    (crm_segment,) = crm_segments(engine, [segment])
    if not crm_segment.external_id:
        raise ConfigError(f"segment {segment} is not on {name} yet: run `cdc-sync segments sync {segment}`")
    settings = {
        "subject_line": subject,
        "from_name": from_name,
        "reply_to": reply_to,
        "template_id": template_id,
        "title": title or f"{segment}: {subject}",
    }
    sent = asyncio.run(
        _with_api(
            name, config, lambda api: send_campaign(api, list_id, crm_segment.external_id or "", settings)
        )
    )
    audit(
        engine,
        actor(),
        "campaign.send",
        f"campaign:{sent['id']}",
        None,
        sent,
        {"segment": segment, "destination": name, **settings},
    )
    emit(
        sent,
        as_json,
        [f"campaign {sent['id']} to {segment}: {sent['status']} ({sent['recipient_count']} recipients)"],
    )


@campaigns.command("status")
@click.argument("campaign_id")
@DESTINATION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def campaigns_status(ctx: click.Context, campaign_id: str, destination: str | None, as_json: bool) -> None:
    """A campaign's status as the platform reports it (save, sending, sent, …). Audited."""
    name, config, _ = _marketing(ctx, destination)
    found = asyncio.run(_with_api(name, config, lambda api: campaign_status(api, campaign_id)))
    audit(
        state_engine_of(ctx),
        actor(),
        "campaign.status",
        f"campaign:{campaign_id}",
        None,
        found,
        {"destination": name},
    )
    emit(
        found,
        as_json,
        [f"campaign {campaign_id}: {found['status']}, {found['emails_sent'] or 0} emails sent"],
    )


async def _with_api(name: str, config: DestinationConfig, call: Any) -> dict[str, Any]:
    api = VendorApi(name, config)
    try:
        result: dict[str, Any] = await call(api)
        return result
    finally:
        await api.aclose()


COMMANDS = (segments, campaigns)
