"""The cloud call center: dial tasks out (dial batches), call lifecycle and dial results in
(Standard Webhooks signed)."""

from collections.abc import Sequence

import click

from cdc_sync.delivery.destinations import BatchApi, Signer, no_signature
from cdc_sync.delivery.http import Headers
from cdc_sync.model.config import DestinationConfig, SourceConfig
from cdc_sync.vendors.callcenter import mapper
from cdc_sync.vendors.callcenter.batch import DialBatches
from cdc_sync.vendors.callcenter.handlers import HANDLERS
from cdc_sync.vendors.callcenter.sandbox import CallCenterSandboxSettings, create_callcenter_app
from cdc_sync.vendors.callcenter.screen_pop import CHANNEL
from cdc_sync.vendors.callcenter.webhooks import FORMAT, SOURCE
from cdc_sync.vendors.plugin import SandboxApp, SubjectRights, Vendor, WebhookSource


def credentials(config: DestinationConfig, secret: str) -> tuple[Headers, Signer]:
    return {"Authorization": f"Bearer {secret}"}, no_signature


def commands() -> Sequence[click.Command]:
    from cdc_sync.vendors.callcenter.commands import COMMANDS  # here: the commands import the CLI

    return COMMANDS


def batch_api(config: DestinationConfig) -> BatchApi:
    return DialBatches(config.batch_max)


VENDOR = Vendor(
    name="callcenter",
    system="callcenter",
    credentials=credentials,
    mappers=mapper.MAPPERS,
    batch_api=batch_api,
    sandbox=SandboxApp(
        "callcenter",
        create_callcenter_app,
        9104,
        CallCenterSandboxSettings,
        ("callcenter_api_token", "callcenter_webhook_secret"),
    ),
    sources={
        SOURCE: WebhookSource(
            SourceConfig.rotating("standard_webhooks", "callcenter", "CDC_SYNC_CALLCENTER_WEBHOOK_SECRET"),
            FORMAT,
        )
    },
    handlers=HANDLERS,
    commands=commands,
    # Its API takes dial tasks and serves calls by call id: no lookup by person and no deletion.
    subject_rights=SubjectRights(
        unsupported="the call center API has no person lookup or deletion: ask the vendor to erase "
        "the contact's calls and recordings"
    ),
    channels=frozenset({CHANNEL}),
    crm_writes={
        "calls": "INSERT, UPDATE",
        "call_agents": "INSERT",
        "contacts": "INSERT",  # an unknown caller becomes a lead
        "dial_tasks": "UPDATE",
        "do_not_call": "INSERT",
    },
    # The review commands: agents mapped, ambiguous calls settled (their timeline and tasks), links.
    command_writes={
        "call_agents": "INSERT, UPDATE",
        "calls": "UPDATE",
        "activities": "UPDATE",
        "tasks": "UPDATE",
    },
)
