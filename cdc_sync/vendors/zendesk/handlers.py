"""What helpdesk events do to the CRM (scenario C-1): status, priority, channel and satisfaction
onto the CRM ticket, and the satisfaction onto the contact's profile and health score."""

from decimal import Decimal
from typing import Any

from cdc_sync.inbound.writes import (
    Applied,
    WriteScope,
    add_activity,
    add_task,
    guarded_update,
    outcome,
    update,
)
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.mapping.normalize import unify_csat

NEGATIVE_CSAT = 40  # 0-100 scale: 2 of 5 or worse asks customer success to look
CENTS = Decimal("0.01")


def _ticket_changes(data: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, kind in (("status", EnumKind.TICKET_STATUS), ("priority", EnumKind.TICKET_PRIORITY)):
        mapped = map_enum(kind, data.get(field))
        if data.get(field) and mapped.known:  # the CRM's CHECK constraints hold only known values
            changes[field] = mapped.value
    if data.get("channel"):
        changes["channel"] = map_enum(EnumKind.TICKET_CHANNEL, data["channel"]).value
    if data.get("satisfaction_score") is not None:
        changes["csat"] = unify_csat(data["satisfaction_score"], 5)
    return changes


def ticket_changed(scope: WriteScope) -> Applied:
    """C-1: status, priority, channel and satisfaction onto the CRM ticket and contact profile."""
    data = scope.event.data
    ticket = scope.reads.row("tickets", "external_id", str(data["ticket_id"]))
    if ticket is None:
        add_task(
            scope,
            "manual_review",
            "customer_success",
            f"Helpdesk ticket {data['ticket_id']} has no CRM ticket",
            f"ticket:{data['ticket_id']}",
        )
        return Applied("unmatched", f"no CRM ticket with external_id {data['ticket_id']}")
    changes = _ticket_changes(data)
    guarded = guarded_update(scope, "tickets", ticket, changes)
    detail = f"ticket {data['ticket_id']}: {changes}"
    if guarded.all_stale:
        return outcome(guarded, detail)
    if "csat" in changes and not guarded.refused("csat") and ticket["contact_id"] is not None:
        _satisfaction_on_profile(scope, ticket, changes["csat"])
    add_activity(scope, "ticket", ticket["contact_id"], {"ticket": data["ticket_id"], **changes})
    return outcome(guarded, detail)


def health_score(old: Any, csat: int) -> Decimal:
    """The CRM's own derived figure: 70% history, 30% the latest satisfaction."""
    if old is None:
        return Decimal(csat).quantize(CENTS)
    return (Decimal(old) * Decimal("0.7") + Decimal(csat) * Decimal("0.3")).quantize(CENTS)


def _satisfaction_on_profile(scope: WriteScope, ticket: dict[str, Any], csat: int) -> None:
    contact = scope.reads.row("contacts", "id", ticket["contact_id"])
    if contact is None:
        return
    if guarded_update(scope, "contacts", contact, {"csat_last": csat}).stale:
        return  # a newer satisfaction is already on the profile
    health = health_score(contact["health_score"], csat)
    update(scope, "contacts", contact, {"health_score": health}, audited=False)
    if csat <= NEGATIVE_CSAT:
        add_task(
            scope,
            "cs_review",
            "customer_success",
            f"Negative satisfaction ({csat}/100) on ticket {ticket['external_id']}: review the account",
            f"ticket:{ticket['external_id']}",
            contact["id"],
        )


HANDLERS = {
    "ticket.status_changed": ticket_changed,
    "ticket.priority_changed": ticket_changed,
    "ticket.satisfaction_rated": ticket_changed,
}
