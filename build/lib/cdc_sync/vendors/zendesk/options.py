"""The settings a `zendesk` destination has beyond the common ones."""

from cdc_sync.vendors.options import VendorOptions


class ZendeskOptions(VendorOptions):
    agent_email: str | None = None  # the API user the token belongs to
