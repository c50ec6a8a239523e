"""Resolving a CRM correction the vendor refused (a `crm_correction` conflict): the vendor's
object changed after the CRM's correction was made, so nothing was overwritten.

    --keep vendor → the vendor's value stands (it reaches the CRM through the vendor's webhook)
    --keep crm    → the refused request is sent again without the collision guard: the operator
                    has seen both sides and decides the CRM's correction wins; the vendor's webhook
                    then brings the value back to the CRM as usual

Either way the conflict is closed and audited with the operator's name, the decision and the
vendor's answer.
"""

from typing import Any

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.errors import ConfigError
from cdc_sync.repair.readers import VendorApi
from cdc_sync.store.conflicts import CRM_CORRECTION, Keep, close_correction, get_conflict

GUARDS = ("safe_update", "updated_stamp")  # what makes a correcting request refuse a change made meanwhile


async def resolve_correction(
    engine: Engine, config: AppConfig, conflict_id: int, keep: Keep, actor: str
) -> Any:
    """Returns the value that stands (the CRM's correction, or None: the vendor's, as it has it)."""
    found = get_conflict(engine, conflict_id)
    if found["kind"] != CRM_CORRECTION or found["status"] != "open":
        raise ConfigError(f"conflict {conflict_id} is not an open refused correction")
    details = found["details"]
    answer: dict[str, Any] | None = None
    if keep == "crm":
        destination = details["destination"]
        config.require_destinations([destination])
        answer = await _send_unguarded(destination, config, details["request"], found["event_id"])
    close_correction(engine, found, keep, actor, answer)
    return found["crm_value"] if keep == "crm" else None


async def _send_unguarded(
    destination: str, config: AppConfig, request: dict[str, Any], key: str
) -> dict[str, Any] | None:
    body = {name: _unguarded(part) for name, part in (request.get("body") or {}).items()}
    api = VendorApi(destination, config.destinations[destination])
    try:
        return await api.send(request["method"], request["path"], body, key=f"{key}-kept")
    finally:
        await api.aclose()


def _unguarded(part: Any) -> Any:
    return {k: v for k, v in part.items() if k not in GUARDS} if isinstance(part, dict) else part
