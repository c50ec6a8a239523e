"""The only list of vendors. The core looks a vendor up here (by the destination `kind` of the
config, or by its sandbox name) instead of keeping a table of its own.

Adding a vendor: a folder `vendors/<name>/` whose `plugin.py` builds a `Vendor`, one line in
`VENDORS`, and its name in `config.DestinationKind` if it is a destination kind.
"""

import httpx

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.destinations import HttpDestination
from cdc_sync.delivery.http import open_port
from cdc_sync.errors import ConfigError
from cdc_sync.vendors.erp import plugin as erp_plugin
from cdc_sync.vendors.mailchimp import plugin as mailchimp_plugin
from cdc_sync.vendors.plugin import Credentials, SandboxApp, Vendor
from cdc_sync.vendors.webhook import plugin as webhook_plugin
from cdc_sync.vendors.zendesk import plugin as zendesk_plugin

VENDORS: dict[str, Vendor] = {
    vendor.name: vendor
    for vendor in (mailchimp_plugin.VENDOR, zendesk_plugin.VENDOR, webhook_plugin.VENDOR, erp_plugin.VENDOR)
}
# Operations that take an object away at its vendor: any earlier change of it is stale after one.
REMOVALS: frozenset[str] = frozenset().union(*(vendor.removals for vendor in VENDORS.values()))
SANDBOXES: dict[str, SandboxApp] = {
    vendor.sandbox.name: vendor.sandbox for vendor in VENDORS.values() if vendor.sandbox is not None
}


def destination_kind(kind: str) -> Vendor:
    """The vendor of a destination kind (`kind` in the config)."""
    vendor = VENDORS.get(kind)
    if vendor is None or vendor.credentials is None:
        raise ConfigError(f"no destination kind {kind!r}; known: {', '.join(destination_kinds())}")
    return vendor


def destination_kinds() -> list[str]:
    return [name for name, vendor in VENDORS.items() if vendor.credentials is not None]


def credentials(kind: str) -> Credentials:
    found = destination_kind(kind).credentials
    if found is None:  # not reached: destination_kind only returns vendors with credentials
        raise ConfigError(f"vendor {kind} takes no deliveries")
    return found


def build_destination(
    name: str, config: DestinationConfig, transport: httpx.AsyncBaseTransport | None = None
) -> HttpDestination:
    """The adapter for a configured destination, with its credential from the environment."""
    auth, signer = credentials(config.kind)(config, config.credential(name).get_secret_value())
    port = open_port(config.base_url, config.max_concurrency, config.timeout_s, transport)
    batch_api = destination_kind(config.kind).batch_api(config)
    return HttpDestination(name, config, port, auth=auth, signer=signer, batch_api=batch_api)
