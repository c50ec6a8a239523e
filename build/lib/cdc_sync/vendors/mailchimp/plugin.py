"""Mailchimp Marketing API 3.0: audience members, their tags (static segments) and status."""

from collections.abc import Sequence

import click

from cdc_sync.delivery.destinations import BatchApi, Signer, basic_auth, no_signature
from cdc_sync.delivery.http import Headers
from cdc_sync.model.config import DestinationConfig, SourceConfig
from cdc_sync.vendors.mailchimp import mapper
from cdc_sync.vendors.mailchimp.backfill import BACKFILL
from cdc_sync.vendors.mailchimp.batch import MailchimpBatch
from cdc_sync.vendors.mailchimp.handlers import HANDLERS
from cdc_sync.vendors.mailchimp.options import MailchimpOptions
from cdc_sync.vendors.mailchimp.reader import open_members
from cdc_sync.vendors.mailchimp.reconcile import expected_members, vendor_member
from cdc_sync.vendors.mailchimp.sandbox import MailchimpSandboxSettings, create_mailchimp_app
from cdc_sync.vendors.mailchimp.subject import RIGHTS
from cdc_sync.vendors.mailchimp.webhooks import ENGAGEMENT_FORMAT, LIST_FORMAT, our_lists
from cdc_sync.vendors.plugin import Reconciliation, SandboxApp, Vendor, WebhookSource


def credentials(config: DestinationConfig, secret: str) -> tuple[Headers, Signer]:
    return basic_auth("cdc-sync", secret), no_signature  # Basic `anystring:<api key>`


def commands() -> Sequence[click.Command]:
    from cdc_sync.vendors.mailchimp.commands import COMMANDS  # here: the commands import the CLI

    return COMMANDS


def batch_api(config: DestinationConfig) -> BatchApi:
    return MailchimpBatch(MailchimpOptions.of(config).list_id or "")


VENDOR = Vendor(
    name="mailchimp",
    system="marketing",
    options=MailchimpOptions,
    credentials=credentials,
    mappers=mapper.MAPPERS,
    removals=frozenset({mapper.ARCHIVE}),
    batch_api=batch_api,
    reader=open_members,
    commands=commands,
    reconciliation=Reconciliation(expected=expected_members, parse=vendor_member),
    sandbox=SandboxApp(
        "marketing",
        create_mailchimp_app,
        9101,
        MailchimpSandboxSettings,
        ("mailchimp_api_key", "marketing_webhook_secret"),
    ),
    sources={
        # Engagement events (opens, clicks) arrive signed; Mailchimp's list webhooks cannot be signed.
        "marketing": WebhookSource(
            SourceConfig.rotating("standard_webhooks", "marketing", "CDC_SYNC_MARKETING_WEBHOOK_SECRET"),
            ENGAGEMENT_FORMAT,
        ),
        "marketing-lists": WebhookSource(
            SourceConfig.rotating("url_secret", "marketing", "CDC_SYNC_MARKETING_LIST_SECRET"),
            LIST_FORMAT,
            admission=our_lists,
        ),
    },
    handlers=HANDLERS,
    backfill=BACKFILL,
    crm_writes={
        "subscriptions": "INSERT, UPDATE",
        "consent_evidence": "INSERT",  # by the subscriptions trigger, as the writer; never changed
        "contacts": "UPDATE",
    },
    command_writes={"segments": "UPDATE"},  # external_id, linked by `segments sync`
    subject_rights=RIGHTS,
)
