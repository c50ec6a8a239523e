"""The only list of vendor kinds: how each proves who it is, and its batch API if it has one."""

import time
from collections.abc import Callable

import httpx

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.destinations import BatchApi, HttpDestination, Signer, basic_auth, no_signature
from cdc_sync.delivery.http import Headers, open_port
from cdc_sync.signing import sign
from cdc_sync.vendors.mailchimp.batch import MailchimpBatch
from cdc_sync.vendors.webhook.batch import WebhookBatch
from cdc_sync.vendors.zendesk.batch import ZendeskUsersBatch


def standard_webhooks_signer(secret: str) -> Signer:
    def signer(message_id: str, body: bytes) -> Headers:
        timestamp = int(time.time())
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body),
        }

    return signer


Credentials = Callable[[DestinationConfig, str], tuple[Headers, Signer]]

# Mailchimp Basic `anystring:<api key>`, Zendesk Basic `<email>/token:<api token>`, the webhook
# destination signs each request with Standard Webhooks.
CREDENTIALS: dict[str, Credentials] = {
    "mailchimp": lambda config, secret: (basic_auth("cdc-sync", secret), no_signature),
    "zendesk": lambda config, secret: (basic_auth(f"{config.agent_email}/token", secret), no_signature),
    "webhook": lambda config, secret: ({}, standard_webhooks_signer(secret)),
}

BATCH_APIS: dict[str, Callable[[DestinationConfig], BatchApi | None]] = {
    "mailchimp": lambda config: MailchimpBatch(config.list_id or ""),
    "zendesk": lambda config: ZendeskUsersBatch(timeout_s=config.latency_threshold_s),
    # A receiver of single Standard Webhooks messages gets batches only when it asks for them.
    "webhook": lambda config: WebhookBatch(config.path, config.batch_max) if config.batch_max else None,
}


def build_destination(
    name: str, config: DestinationConfig, transport: httpx.AsyncBaseTransport | None = None
) -> HttpDestination:
    """The adapter for a configured destination, with its credential from the environment."""
    auth, signer = CREDENTIALS[config.kind](config, config.credential(name).get_secret_value())
    port = open_port(config.base_url, config.max_concurrency, config.timeout_s, transport)
    return HttpDestination(
        name, config, port, auth=auth, signer=signer, batch_api=BATCH_APIS[config.kind](config)
    )
