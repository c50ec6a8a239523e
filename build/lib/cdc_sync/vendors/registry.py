"""The only list of vendors. The core looks a vendor up here (by the destination `kind` of the
config, or by its sandbox name) instead of keeping a table of its own.

Adding a vendor: a folder `vendors/<name>/` whose `plugin.py` builds a `Vendor`, and one line in
`VENDORS`.
"""

import httpx

from cdc_sync.delivery.destinations import HttpDestination
from cdc_sync.delivery.http import open_port
from cdc_sync.errors import ConfigError
from cdc_sync.inbound.verifiers import SCHEMES, VerifierFactory
from cdc_sync.model.config import CORE_OWNERS, DestinationConfig, SourceConfig
from cdc_sync.store.grants import CORE_WRITES
from cdc_sync.vendors.callcenter import plugin as callcenter_plugin
from cdc_sync.vendors.erp import plugin as erp_plugin
from cdc_sync.vendors.mailchimp import plugin as mailchimp_plugin
from cdc_sync.vendors.plugin import (
    AdmissionFactory,
    Backfill,
    Credentials,
    Handler,
    SandboxApp,
    Vendor,
    WebhookSource,
)
from cdc_sync.vendors.webhook import plugin as webhook_plugin
from cdc_sync.vendors.zendesk import plugin as zendesk_plugin

VENDORS: dict[str, Vendor] = {
    vendor.name: vendor
    for vendor in (
        mailchimp_plugin.VENDOR,
        zendesk_plugin.VENDOR,
        webhook_plugin.VENDOR,
        erp_plugin.VENDOR,
        callcenter_plugin.VENDOR,
    )
}
# Live channels (`GET /events/{channel}` on serve) the vendors' handlers announce on.
CHANNELS: frozenset[str] = frozenset().union(*(vendor.channels for vendor in VENDORS.values()))
# Operations that take an object away at its vendor: any earlier change of it is stale after one.
REMOVALS: frozenset[str] = frozenset().union(*(vendor.removals for vendor in VENDORS.values()))
SANDBOXES: dict[str, SandboxApp] = {
    vendor.sandbox.name: vendor.sandbox for vendor in VENDORS.values() if vendor.sandbox is not None
}
# Inbound: webhook sources by name, event kinds → handlers, signing schemes, the systems that own data.
SOURCES: dict[str, WebhookSource] = {
    name: source for vendor in VENDORS.values() for name, source in vendor.sources.items()
}
# Sources whose events are checked to be for an account of ours (the vendor's own rule).
ADMISSIONS: dict[str, AdmissionFactory] = {
    name: source.admission for name, source in SOURCES.items() if source.admission is not None
}
DEFAULT_SOURCES: dict[str, SourceConfig] = {name: source.config for name, source in SOURCES.items()}
HANDLERS: dict[str, Handler] = {
    kind: handler for vendor in VENDORS.values() for kind, handler in vendor.handlers.items()
}
VERIFIER_SCHEMES: dict[str, VerifierFactory] = {
    **SCHEMES,
    **{name: factory for vendor in VENDORS.values() for name, factory in vendor.schemes.items()},
}
# Systems whose history `cdc-sync backfill <system>` reads from their vendor: (its kind, how).
BACKFILLS: dict[str, tuple[str, Backfill]] = {
    vendor.system: (vendor.name, vendor.backfill)
    for vendor in VENDORS.values()
    if vendor.system and vendor.backfill is not None
}
# What the vendors' handlers and operator commands write in the CRM: the database grants it (store.grants).
CRM_WRITES: tuple[tuple[str, str], ...] = tuple(
    w for vendor in VENDORS.values() for w in vendor.crm_writes.items()
)
COMMAND_WRITES: tuple[tuple[str, str], ...] = tuple(
    w for vendor in VENDORS.values() for w in vendor.command_writes.items()
)
# The CRM tables the writer updates (their rows are locked while a handler reads them).
UPDATED_TABLES: frozenset[str] = frozenset(
    table for table, privileges in (*CRM_WRITES, *CORE_WRITES.items()) if "UPDATE" in privileges
)
OWNERS: frozenset[str] = CORE_OWNERS | {vendor.system for vendor in VENDORS.values() if vendor.system}


def destination_kind(kind: str) -> Vendor:
    """The vendor of a destination kind (`kind` in the config)."""
    vendor = VENDORS.get(kind)
    if vendor is None or vendor.credentials is None:
        raise ConfigError(f"no destination kind {kind!r}; known: {', '.join(destination_kinds())}")
    return vendor


def check_options(kind: str, options: dict[str, object]) -> None:
    """A destination's settings beyond the common ones are its vendor's (ValueError otherwise)."""
    model = destination_kind(kind).options
    if model is not None:
        model.model_validate(options)
    elif options:
        raise ValueError(f"kind {kind} takes no setting {', '.join(sorted(options))}")


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
    vendor = destination_kind(config.kind)
    return HttpDestination(
        name,
        config,
        port,
        auth=auth,
        signer=signer,
        batch_api=vendor.batch_api(config),
        answer_ref=vendor.answer_ref,
    )
