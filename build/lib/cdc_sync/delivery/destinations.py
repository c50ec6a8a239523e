"""The destination port and its HTTP adapter (one for every vendor kind in `vendors/registry.py`).

Mapping already produced the vendor-shaped request; the adapter adds only what the vendor's
auth scheme needs, sends, and reports an `Outcome` per delivery. Deliveries that share a
batch group go out as one call of the vendor's batch API (`cdc_sync/vendors/*/batch.py`
knows each API's shape and per-item answers); everything else is one request each. Every
request the vendor receives takes a token of the destination's rate limiter, since that is
what the vendor counts.
"""

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import orjson

from cdc_sync.delivery.http import Answer, Headers, HttpPort
from cdc_sync.delivery.ratelimit import RateLimiter
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Delivery, Outcome

Signer = Callable[[str, bytes], Headers]


class Destination(Protocol):
    name: str

    def batch_group(self, delivery: Delivery) -> str | None:
        """Deliveries of one group may share a request; None: this one goes alone."""

    def batch_limit(self, group: str) -> int: ...

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]: ...

    async def aclose(self) -> None: ...


class VendorCalls(Protocol):
    """What a batch API sends through: single deliveries and raw calls, both paced and keyed."""

    async def send_alone(self, delivery: Delivery) -> Outcome: ...

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None, key: str, extra: Headers | None = None
    ) -> Answer: ...


class BatchApi(Protocol):
    """A vendor's batch endpoints: how many items a group takes, and one call for many deliveries
    answered with one outcome per delivery, in order."""

    def limit(self, group: str) -> int: ...

    async def send(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]: ...


# The vendor's id of the object in its answer to a single request, if it names one.
AnswerRef = Callable[[Mapping[str, Any]], str | None]
OK_RANGE = range(200, 300)


def no_signature(message_id: str, body: bytes) -> Headers:
    return {}


def basic_auth(user: str, secret: str) -> Headers:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class HttpDestination:
    """One destination's requests over a keep-alive pool, batched where its vendor allows."""

    def __init__(
        self,
        name: str,
        config: DestinationConfig,
        port: HttpPort,
        auth: Headers | None = None,
        signer: Signer = no_signature,
        batch_api: BatchApi | None = None,
        answer_ref: AnswerRef | None = None,
    ) -> None:
        self.name = name
        self._port = port
        self._answer_ref = answer_ref
        self._auth = auth or {}
        self._signer = signer
        self._limiter = RateLimiter(config.rate_limit_per_s * config.rate_target)
        self._batching = batch_api if config.batch_max != 1 else None
        self._batch_max = config.batch_max

    def batch_group(self, delivery: Delivery) -> str | None:
        form = delivery.request.batch
        return form.group if form is not None and self._batching is not None else None

    def batch_limit(self, group: str) -> int:
        if self._batching is None:
            return 1
        return min(self._batch_max or self._batching.limit(group), self._batching.limit(group))

    async def send(self, batch: Sequence[Delivery]) -> list[Outcome]:
        group = self.batch_group(batch[0]) if batch else None
        if self._batching is None or group is None or len(batch) == 1:
            return [await self.send_alone(delivery) for delivery in batch]
        return await self._batching.send(self, group, batch)

    async def send_alone(self, delivery: Delivery) -> Outcome:
        request = delivery.request
        answer = await self.call(request.method, request.path, request.body, delivery.idempotency_key)
        named = self._answer_ref and answer.outcome.status in OK_RANGE and isinstance(answer.json, dict)
        ref = self._answer_ref(answer.json) if named and self._answer_ref else None
        return answer.outcome if ref is None else replace(answer.outcome, vendor_ref=ref)

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None, key: str, extra: Headers | None = None
    ) -> Answer:
        """One request to the vendor (paced by the rate limiter), signed and keyed."""
        content = None if body is None else orjson.dumps(body)
        headers = {**self._auth, "Idempotency-Key": key, **self._signer(key, content or b""), **(extra or {})}
        if content is not None:
            headers["Content-Type"] = "application/json"
        await self._limiter.acquire()
        return await self._port.request(method, path, content, headers)

    async def aclose(self) -> None:
        await self._port.aclose()
