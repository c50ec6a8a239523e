"""The ERP: cdc-sync sends it signed webhooks (a `webhook` destination) and takes its collection
and refund webhooks in (`cdc_sync/inbound/`); here only its sandbox."""

from cdc_sync.vendors.erp.sandbox import create_erp_app
from cdc_sync.vendors.plugin import SandboxApp, Vendor

VENDOR = Vendor(name="erp", sandbox=SandboxApp("erp", create_erp_app))
