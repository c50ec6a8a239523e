"""Reading records back from vendors, for reconciliation: paged, rate-limited, retried.

A reader is a narrow port (`vendors.plugin.VendorReader`, one per vendor in its folder):
`pages()` walks every record the vendor holds for us, `one(key)` fetches a single one (for
samples and re-checks); it reads through `VendorApi`. Auth is the destination's own
(its vendor's `credentials`), the pace its delivery target (`rate_limit_per_s * rate_target`), and a
response is classified by the delivery policy's table: 429 waits for `Retry-After`, 5xx and
network errors back off and retry, 401/403 mean the credential is wrong. httpx errors stop here.
"""

import asyncio
import math
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from cdc_sync.delivery.http import Answer, open_port
from cdc_sync.delivery.policy import backoff_s, classify, retry_after_s
from cdc_sync.delivery.ratelimit import RateLimiter
from cdc_sync.errors import CdcSyncError, ConfigError
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Action, Method, Outcome, VendorRequest
from cdc_sync.vendors.plugin import VendorReader
from cdc_sync.vendors.registry import credentials, destination_kind

MAX_RATE_LIMITED_WAITS = 30
# A 404 means "no such record" only for a lookup; a listing that 404s (wrong list id, wrong host)
# must fail, or every CRM record would count as missing at the vendor.
_LISTING = VendorRequest(method="GET", path="/")
_LOOKUP = VendorRequest(method="GET", path="/", not_found_ok=True)
_REFUSED_CREDENTIALS = frozenset({401, 403})


class VendorUnreadable(CdcSyncError):
    """A call to the vendor failed: it kept failing or refused the request."""


class VendorApi:
    """Calls to one destination outside the delivery path (reads, operators' pushes) with its
    credential, pace and retry rules."""

    def __init__(
        self,
        name: str,
        config: DestinationConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._auth, _ = credentials(config.kind)(config, config.credential(name).get_secret_value())
        self.name, self._config, self._sleep = name, config, sleep
        self._port = open_port(config.base_url, config.max_concurrency, config.timeout_s, transport)
        self._limiter = RateLimiter(config.rate_limit_per_s * config.rate_target)

    async def get(
        self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        """The JSON object at `path`; None for a 404 when `missing_ok` (a lookup)."""
        return await self.send("GET", path, params=params, missing_ok=missing_ok)

    async def send(
        self,
        method: Method,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
        key: str | None = None,
    ) -> dict[str, Any] | None:
        """One call with the read rules (an operator's call to the vendor: a segment push, a
        campaign send): its JSON object ({} for 204); `key` is the call's idempotency key."""
        failures = waits = 0
        while True:
            await self._limiter.acquire()
            answer = await self._request(method, path, body, params, key)
            outcome = answer.outcome
            # A slow answer is still an answer: reading has no latency threshold to compensate.
            action = classify(outcome, _LOOKUP if missing_ok else _LISTING, math.inf)
            if action is Action.OK:
                if outcome.status in (204, 404):
                    return {} if outcome.status == 204 else None
                return _json(self.name, path, answer)
            if action is Action.RETRY_AFTER and waits < MAX_RATE_LIMITED_WAITS:
                waits += 1
                await self._sleep(retry_after_s(outcome, self._config.retry_after_cap_s))
            elif action is Action.RETRY and failures < self._config.max_compensations:
                failures += 1
                cfg = self._config
                await self._sleep(backoff_s(failures, cfg.backoff_base_s, cfg.backoff_cap_s, random.random()))
            else:
                raise _refusal(self.name, f"{method} {path}", outcome)

    async def _request(
        self,
        method: Method,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        key: str | None,
    ) -> Answer:
        target = f"{path}?{urlencode(params)}" if params else path
        headers = {**self._auth, **({"Idempotency-Key": key} if key else {})}
        if body is None:
            return await self._port.request(method, target, None, headers)
        headers["Content-Type"] = "application/json"
        return await self._port.request(method, target, orjson.dumps(body), headers)

    async def aclose(self) -> None:
        await self._port.aclose()


def _json(name: str, path: str, answer: Answer) -> dict[str, Any]:
    if not isinstance(answer.json, dict):
        raise VendorUnreadable(f"{name}: {path} answered with no JSON object")
    return answer.json


def _refusal(name: str, call: str, outcome: Outcome) -> CdcSyncError:
    if outcome.status in _REFUSED_CREDENTIALS:
        return ConfigError(f"{name}: the vendor refused the credential for {call}: {outcome.summary}")
    return VendorUnreadable(f"{name}: {call} failed: {outcome.summary}")


def open_reader(
    name: str, config: DestinationConfig, transport: httpx.AsyncBaseTransport | None = None
) -> VendorReader | None:
    """The reader for a destination's kind; None for kinds that cannot be read back (webhook)."""
    opener = destination_kind(config.kind).reader
    if opener is None:
        return None
    return opener(name, config, lambda: VendorApi(name, config, transport))
