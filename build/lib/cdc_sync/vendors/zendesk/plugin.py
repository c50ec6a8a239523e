"""Zendesk Support: CRM contacts as helpdesk users (create_or_update by external_id)."""

from collections.abc import Mapping
from typing import Any

from cdc_sync.delivery.destinations import BatchApi, Signer, basic_auth, no_signature
from cdc_sync.delivery.http import Headers
from cdc_sync.model.config import DestinationConfig, SourceConfig
from cdc_sync.vendors.plugin import Reconciliation, SandboxApp, Vendor, WebhookSource
from cdc_sync.vendors.zendesk import mapper
from cdc_sync.vendors.zendesk.backfill import BACKFILL
from cdc_sync.vendors.zendesk.batch import ZendeskUsersBatch
from cdc_sync.vendors.zendesk.handlers import HANDLERS
from cdc_sync.vendors.zendesk.options import ZendeskOptions
from cdc_sync.vendors.zendesk.reader import open_users
from cdc_sync.vendors.zendesk.reconcile import expected_users, vendor_user
from cdc_sync.vendors.zendesk.sandbox import ZendeskSandboxSettings, create_zendesk_app
from cdc_sync.vendors.zendesk.signing import ZendeskVerifier
from cdc_sync.vendors.zendesk.subject import RIGHTS
from cdc_sync.vendors.zendesk.webhooks import FORMAT, SATISFACTION_FORMAT


def credentials(config: DestinationConfig, secret: str) -> tuple[Headers, Signer]:
    return basic_auth(
        f"{ZendeskOptions.of(config).agent_email}/token", secret
    ), no_signature  # `<email>/token:<api token>`


def user_id(answer: Mapping[str, Any]) -> str | None:
    """create_or_update answers `{"user": {"id": …}}`: the id its ticket events will name."""
    user = answer.get("user")
    found = user.get("id") if isinstance(user, dict) else None
    return None if found is None else str(found)


def batch_api(config: DestinationConfig) -> BatchApi:
    return ZendeskUsersBatch(timeout_s=config.latency_threshold_s)


VENDOR = Vendor(
    name="zendesk",
    system="helpdesk",
    options=ZendeskOptions,
    credentials=credentials,
    mappers=mapper.MAPPERS,
    batch_api=batch_api,
    answer_ref=user_id,
    reader=open_users,
    reconciliation=Reconciliation(expected=expected_users, parse=vendor_user),
    sandbox=SandboxApp(
        "helpdesk",
        create_zendesk_app,
        9102,
        ZendeskSandboxSettings,
        ("zendesk_api_token", "helpdesk_webhook_secret"),
    ),
    sources={
        "helpdesk": WebhookSource(
            SourceConfig.rotating("zendesk", "helpdesk", "CDC_SYNC_HELPDESK_WEBHOOK_SECRET"), FORMAT
        ),
        # A second Zendesk webhook (its own signing secret), connected to the satisfaction trigger.
        "helpdesk-csat": WebhookSource(
            SourceConfig.rotating("zendesk", "helpdesk", "CDC_SYNC_HELPDESK_CSAT_SECRET", optional=True),
            SATISFACTION_FORMAT,
        ),
    },
    handlers=HANDLERS,
    backfill=BACKFILL,
    subject_rights=RIGHTS,
    schemes={"zendesk": ZendeskVerifier},
    crm_writes={
        "tickets": "INSERT, UPDATE",
        "interactions": "INSERT",
        "contacts": "UPDATE",  # csat_last, health_score
        "opportunities": "UPDATE",  # case figures
        "contact_service": "INSERT, UPDATE",
    },
)
