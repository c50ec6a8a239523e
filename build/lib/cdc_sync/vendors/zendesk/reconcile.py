"""Reconciliation's view of the helpdesk: users as create_or_update would leave them, and as
Zendesk lists them. Keyed by external_id (the CRM contact id)."""

from collections.abc import Iterable, Mapping
from typing import Any

from cdc_sync.model.delivery import Delivery
from cdc_sync.model.reconcile import Record, contact_of, masked

ZENDESK_FIELDS = ("email", "name", "phone")


def expected_users(deliveries: Iterable[Delivery]) -> dict[str, Record]:
    """Zendesk users by external_id, as create_or_update would leave them."""
    records: dict[str, Record] = {}
    for delivery in deliveries:
        user = (delivery.request.body or {}).get("user") or {}
        key = str(user.get("external_id"))
        fields = {name: user.get(name) for name in ZENDESK_FIELDS}
        records[key] = Record(key=key, fields=fields, contacts=(contact_of(delivery.entity),))
    return records


def vendor_user(user: Mapping[str, Any], vocabulary: frozenset[str]) -> Record | None:
    """A helpdesk user as compared; users without an external_id (agents, people who only
    wrote in) were never created by cdc-sync, so they are not compared (None)."""
    if not user.get("external_id"):
        return None
    label = f"user {user.get('id')} ({masked(user.get('email'))})"
    fields = {name: user.get(name) for name in ZENDESK_FIELDS}
    return Record(key=str(user["external_id"]), fields=fields, label=label)
