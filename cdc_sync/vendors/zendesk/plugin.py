"""Zendesk Support: CRM contacts as helpdesk users (create_or_update by external_id)."""

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.destinations import BatchApi, Signer, basic_auth, no_signature
from cdc_sync.delivery.http import Headers
from cdc_sync.vendors.plugin import Reconciliation, SandboxApp, Vendor
from cdc_sync.vendors.zendesk import mapper
from cdc_sync.vendors.zendesk.batch import ZendeskUsersBatch
from cdc_sync.vendors.zendesk.reader import open_users
from cdc_sync.vendors.zendesk.reconcile import expected_users, vendor_user
from cdc_sync.vendors.zendesk.sandbox import create_zendesk_app


def credentials(config: DestinationConfig, secret: str) -> tuple[Headers, Signer]:
    return basic_auth(f"{config.agent_email}/token", secret), no_signature  # `<email>/token:<api token>`


def batch_api(config: DestinationConfig) -> BatchApi:
    return ZendeskUsersBatch(timeout_s=config.latency_threshold_s)


VENDOR = Vendor(
    name="zendesk",
    credentials=credentials,
    mappers=mapper.MAPPERS,
    batch_api=batch_api,
    reader=open_users,
    reconciliation=Reconciliation(expected=expected_users, parse=vendor_user),
    sandbox=SandboxApp("helpdesk", create_zendesk_app),
)
