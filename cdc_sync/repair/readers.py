"""Reading records back from vendors, for reconciliation: paged, rate-limited, retried.

A reader is a narrow port: `pages()` walks every record the vendor holds for us, `one(key)`
fetches a single one (for samples and re-checks). Auth is the destination's own
(`CREDENTIALS`), the pace its delivery target (`rate_limit_per_s * rate_target`), and a
response is classified by the delivery policy's table: 429 waits for `Retry-After`, 5xx and
network errors back off and retry, 401/403 mean the credential is wrong. httpx errors stop here.
"""

import asyncio
import math
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from cdc_sync.config import DestinationConfig
from cdc_sync.delivery.http import Answer, open_port
from cdc_sync.delivery.model import Outcome, VendorRequest
from cdc_sync.delivery.policy import Action, backoff_s, classify, retry_after_s
from cdc_sync.delivery.ratelimit import RateLimiter
from cdc_sync.errors import CdcSyncError, ConfigError
from cdc_sync.vendors.registry import CREDENTIALS

MAILCHIMP_PAGE = 1000  # the most `count` Mailchimp allows
ZENDESK_PAGE = 100  # the most `page[size]` Zendesk allows for users
MAX_RATE_LIMITED_WAITS = 30
# A 404 means "no such record" only for a lookup; a listing that 404s (wrong list id, wrong host)
# must fail, or every CRM record would count as missing at the vendor.
_LISTING = VendorRequest(method="GET", path="/")
_LOOKUP = VendorRequest(method="GET", path="/", not_found_ok=True)
_REFUSED_CREDENTIALS = frozenset({401, 403})


class VendorUnreadable(CdcSyncError):
    """The vendor's records could not be read (it kept failing or refused the request)."""


@dataclass(frozen=True)
class Page:
    items: tuple[dict[str, Any], ...]
    total: int | None = None  # all records the vendor holds, when it says


class VendorReader(Protocol):
    def pages(self) -> AsyncIterator[Page]: ...

    async def one(self, key: str) -> dict[str, Any] | None: ...

    async def aclose(self) -> None: ...


class VendorApi:
    """GETs against one destination with its credential, pace and retry rules."""

    def __init__(
        self,
        name: str,
        config: DestinationConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._auth, _ = CREDENTIALS[config.kind](config, config.credential(name).get_secret_value())
        self.name, self._config, self._sleep = name, config, sleep
        self._port = open_port(config.base_url, config.max_concurrency, config.timeout_s, transport)
        self._limiter = RateLimiter(config.rate_limit_per_s * config.rate_target)

    async def get(
        self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        """The JSON object at `path`; None for a 404 when `missing_ok` (a lookup)."""
        failures = waits = 0
        while True:
            await self._limiter.acquire()
            answer = await self._request(path, params)
            outcome = answer.outcome
            # A slow answer is still an answer: reading has no latency threshold to compensate.
            action = classify(outcome, _LOOKUP if missing_ok else _LISTING, math.inf)
            if action is Action.OK:
                return None if outcome.status == 404 else _json(self.name, path, answer)
            if action is Action.RETRY_AFTER and waits < MAX_RATE_LIMITED_WAITS:
                waits += 1
                await self._sleep(retry_after_s(outcome, self._config.retry_after_cap_s))
            elif action is Action.RETRY and failures < self._config.max_compensations:
                failures += 1
                cfg = self._config
                await self._sleep(backoff_s(failures, cfg.backoff_base_s, cfg.backoff_cap_s, random.random()))
            else:
                raise _refusal(self.name, path, outcome)

    async def _request(self, path: str, params: dict[str, Any] | None) -> Answer:
        target = f"{path}?{urlencode(params)}" if params else path
        return await self._port.request("GET", target, None, self._auth)

    async def aclose(self) -> None:
        await self._port.aclose()


def _json(name: str, path: str, answer: Answer) -> dict[str, Any]:
    if not isinstance(answer.json, dict):
        raise VendorUnreadable(f"{name}: {path} answered with no JSON object")
    return answer.json


def _refusal(name: str, path: str, outcome: Outcome) -> CdcSyncError:
    if outcome.status in _REFUSED_CREDENTIALS:
        return ConfigError(f"{name}: the vendor refused the credential reading {path}: {outcome.summary}")
    return VendorUnreadable(f"{name}: reading {path} failed: {outcome.summary}")


class MailchimpMembers:
    """The list's members, `count`/`offset` paged (archived ones included, as the API lists them)."""

    def __init__(self, api: VendorApi, list_id: str, page_size: int = MAILCHIMP_PAGE) -> None:
        self._api, self._members, self._page_size = api, f"/3.0/lists/{list_id}/members", page_size

    async def pages(self) -> AsyncIterator[Page]:
        offset = 0
        while True:
            body = await self._api.get(self._members, {"count": self._page_size, "offset": offset}) or {}
            members, total = body.get("members") or [], int(body.get("total_items") or 0)
            yield Page(tuple(members), total)
            offset += len(members)
            if not members or offset >= total:
                return

    async def one(self, key: str) -> dict[str, Any] | None:
        return await self._api.get(f"{self._members}/{key}", missing_ok=True)

    async def aclose(self) -> None:
        await self._api.aclose()


class ZendeskUsers:
    """Every user, by cursor pagination (`page[size]`, then `page[after]` while `meta.has_more`)."""

    def __init__(self, api: VendorApi, page_size: int = ZENDESK_PAGE) -> None:
        self._api, self._page_size = api, page_size

    async def pages(self) -> AsyncIterator[Page]:
        params: dict[str, Any] = {"page[size]": self._page_size}
        while True:
            body = await self._api.get("/api/v2/users", params) or {}
            yield Page(tuple(body.get("users") or []))
            meta = body.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return
            params = {"page[size]": self._page_size, "page[after]": meta["after_cursor"]}

    async def one(self, key: str) -> dict[str, Any] | None:
        body = await self._api.get("/api/v2/users/search", {"external_id": key}) or {}
        users = body.get("users") or []
        return users[0] if users else None

    async def aclose(self) -> None:
        await self._api.aclose()


READERS: dict[str, Callable[[VendorApi, DestinationConfig], VendorReader]] = {
    "mailchimp": lambda api, config: MailchimpMembers(api, config.list_id or ""),
    "zendesk": lambda api, config: ZendeskUsers(api),
}


def open_reader(
    name: str, config: DestinationConfig, transport: httpx.AsyncBaseTransport | None = None
) -> VendorReader | None:
    """The reader for a destination's kind; None for kinds that cannot be read back (webhook)."""
    if config.kind not in READERS:
        return None
    if config.kind == "mailchimp" and not config.list_id:
        raise ConfigError(f"destination {name}: a mailchimp destination needs list_id")
    return READERS[config.kind](VendorApi(name, config, transport), config)
