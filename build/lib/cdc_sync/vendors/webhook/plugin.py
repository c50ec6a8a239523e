"""The generic webhook destination: any table as a Standard-Webhooks-signed JSON event."""

import time

from cdc_sync.delivery.destinations import BatchApi, Signer
from cdc_sync.delivery.http import Headers
from cdc_sync.model.config import DestinationConfig
from cdc_sync.signing import sign
from cdc_sync.vendors.plugin import Vendor
from cdc_sync.vendors.webhook import mapper
from cdc_sync.vendors.webhook.batch import WebhookBatch


def standard_webhooks_signer(secret: str) -> Signer:
    def signer(message_id: str, body: bytes) -> Headers:
        timestamp = int(time.time())
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body),
        }

    return signer


def credentials(config: DestinationConfig, secret: str) -> tuple[Headers, Signer]:
    return {}, standard_webhooks_signer(secret)  # no auth header: each request is signed


def batch_api(config: DestinationConfig) -> BatchApi | None:
    # A receiver of single Standard Webhooks messages gets batches only when it asks for them.
    return WebhookBatch(config.path, config.batch_max) if config.batch_max else None


# Write-only: a receiver has no API to read back, so it cannot be reconciled.
VENDOR = Vendor(name="webhook", credentials=credentials, any_table=mapper.change, batch_api=batch_api)
