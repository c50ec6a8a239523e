"""The call center's own detail of calls (`GET /v1/calls/{id}`), for reconciliation: paced and
retried by the `ReadApi` it is given; a call the vendor does not know is None."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from cdc_sync.vendors.callcenter.links import provider_call_id
from cdc_sync.vendors.plugin import ReadApi


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
