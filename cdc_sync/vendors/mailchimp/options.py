"""The settings a `mailchimp` destination has beyond the common ones."""

from cdc_sync.vendors.options import VendorOptions


class MailchimpOptions(VendorOptions):
    list_id: str | None = None  # the audience the contacts are members of
