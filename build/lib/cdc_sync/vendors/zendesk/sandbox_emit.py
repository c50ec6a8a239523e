"""How the helpdesk sandbox signs the webhooks it emits: Zendesk's own scheme."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from cdc_sync.sandbox.emit import Encoder
from cdc_sync.vendors.zendesk.signing import zendesk_signed_headers


def zendesk(secret: str) -> Encoder:
    def encode(payload: Mapping[str, Any], event_id: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(payload)
        stamp = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return body, {"content-type": "application/json", **zendesk_signed_headers(secret, stamp, body)}

    return encode
