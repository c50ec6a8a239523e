"""What cdc-sync reads back from the call center, paced and retried by the `ReadApi` it is given:
its agents (`GET /v1/agents?cursor=`, every page) for the mapping sync, and its detail of calls
(`GET /v1/calls/{id}`) for reconciliation (a call it does not know is None)."""

from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote

from cdc_sync.vendors.callcenter.links import provider_call_id
from cdc_sync.vendors.plugin import ReadApi

AGENTS = "/v1/agents"


async def read_details(api: ReadApi, ext_call_ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """Each CRM call (by its `ext_call_id`) → the vendor's detail of it, or None if it has none."""
    found: dict[str, dict[str, Any] | None] = {}
    try:
        for ext in ext_call_ids:
            answer = await api.get(f"/v1/calls/{quote(provider_call_id(ext), safe='')}", missing_ok=True)
            found[ext] = None if answer is None else dict(answer.get("call") or {})
    finally:
        await api.aclose()
    return found


async def read_agents(api: ReadApi) -> list[dict[str, Any]]:
    try:
        return [agent async for agent in _agent_pages(api)]
    finally:
        await api.aclose()


async def _agent_pages(api: ReadApi) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = await api.get(AGENTS, {"limit": 100, **({"cursor": cursor} if cursor else {})}) or {}
        for agent in page.get("agents") or []:
            yield agent
        cursor = page.get("next_cursor")
        if not cursor:
            return
