"""The settings a `mailchimp` destination has beyond the common ones."""

from pydantic import Field

from cdc_sync.vendors.options import VendorOptions


class MailchimpOptions(VendorOptions):
    list_id: str | None = None  # the audience the contacts are members of
    # How far a pushed segment's member count may be from the CRM's (a share of it) before an
    # alert: 0 = exactly; members the platform refuses (not on the list) make the difference.
    segment_tolerance: float = Field(default=0.0, ge=0, le=1)
