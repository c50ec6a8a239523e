"""The ERP: cdc-sync sends it signed webhooks (a `webhook` destination) and takes its collection
and refund webhooks in; its sandbox verifies the one and emits the other."""

from cdc_sync.model.config import SourceConfig
from cdc_sync.vendors.erp.handlers import HANDLERS
from cdc_sync.vendors.erp.sandbox import ErpSandboxSettings, create_erp_app
from cdc_sync.vendors.erp.webhooks import FORMAT
from cdc_sync.vendors.plugin import SandboxApp, Vendor, WebhookSource

VENDOR = Vendor(
    name="erp",
    system="erp",
    sandbox=SandboxApp("erp", create_erp_app, 9103, ErpSandboxSettings, ("erp_webhook_secret",)),
    sources={
        "erp": WebhookSource(
            SourceConfig.rotating("standard_webhooks", "erp", "CDC_SYNC_ERP_WEBHOOK_SECRET"), FORMAT
        )
    },
    handlers=HANDLERS,
    crm_writes={"opportunities": "UPDATE"},  # collection progress and billing status
)
