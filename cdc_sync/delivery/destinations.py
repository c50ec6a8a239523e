"""The destination port and its HTTP adapters (Mailchimp, Zendesk, signed webhook).

Mapping already produced the vendor-shaped request; an adapter adds only what the vendor's
auth scheme needs, sends, and reports an `Outcome`. httpx errors stop here.
"""

import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
import orjson

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.model import Delivery, Outcome
from cdc_sync.signing import sign

Signer = Callable[[Delivery, bytes], dict[str, str]]


class Destination(Protocol):
    name: str

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]: ...

    async def aclose(self) -> None: ...


def _no_signature(delivery: Delivery, body: bytes) -> dict[str, str]:
    return {}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


async def timed_request(
    client: httpx.AsyncClient, method: str, path: str, **options: Any
) -> tuple[Outcome, httpx.Response | None]:
    """One request as the policy sees it (httpx errors become timeout/network outcomes), with the
    response when there is one."""
    started = time.perf_counter()
    try:
        response = await client.request(method, path, **options)
    except httpx.TimeoutException:
        return Outcome(None, time.perf_counter() - started, failure="timeout"), None
    except httpx.HTTPError as exc:
        return Outcome(None, time.perf_counter() - started, body=str(exc), failure="network"), None
    elapsed, retry_after = time.perf_counter() - started, _retry_after(response)
    return Outcome(response.status_code, elapsed, response.text[:2000], retry_after_s=retry_after), response


class HttpDestination:
    """Sends each delivery as one HTTP request over a shared, keep-alive connection pool."""

    def __init__(
        self,
        name: str,
        config: DestinationConfig,
        auth: httpx.Auth | None = None,
        signer: Signer = _no_signature,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        limits = httpx.Limits(
            max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
        )
        self._client = httpx.AsyncClient(
            base_url=config.base_url, auth=auth, timeout=config.timeout_s, limits=limits, transport=transport
        )
        self._signer = signer

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]:
        return [await self._send_one(delivery) for delivery in batch]

    async def _send_one(self, delivery: Delivery) -> Outcome:
        request = delivery.request
        body = b"" if request.body is None else orjson.dumps(request.body)
        headers = {"Idempotency-Key": delivery.idempotency_key, **self._signer(delivery, body)}
        if request.body is not None:
            headers["Content-Type"] = "application/json"
        outcome, _ = await timed_request(
            self._client, request.method, request.path, content=body, headers=headers
        )
        return outcome

    async def aclose(self) -> None:
        await self._client.aclose()


def _standard_webhooks_signer(secret: str) -> Signer:
    def signer(delivery: Delivery, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "webhook-id": delivery.idempotency_key,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, delivery.idempotency_key, int(timestamp), body),
        }

    return signer


Credentials = Callable[[DestinationConfig, str], tuple[httpx.Auth | None, Signer]]

# How each kind proves who it is: Mailchimp Basic `anystring:<api key>`, Zendesk Basic
# `<email>/token:<api token>`, the webhook destination signs with Standard Webhooks.
CREDENTIALS: dict[str, Credentials] = {
    "mailchimp": lambda config, secret: (httpx.BasicAuth("cdc-sync", secret), _no_signature),
    "zendesk": lambda config, secret: (httpx.BasicAuth(f"{config.agent_email}/token", secret), _no_signature),
    "webhook": lambda config, secret: (None, _standard_webhooks_signer(secret)),
}


def build_destination(
    name: str, config: DestinationConfig, transport: httpx.AsyncBaseTransport | None = None
) -> HttpDestination:
    """The adapter for a configured destination, with its credential from the environment."""
    auth, signer = CREDENTIALS[config.kind](config, config.credential(name).get_secret_value())
    return HttpDestination(name, config, auth=auth, signer=signer, transport=transport)
