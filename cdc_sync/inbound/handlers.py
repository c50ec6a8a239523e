"""What each kind of vendor event does to the CRM (scenarios B-1, C-1, subscriptions, clicks).

Each handler runs inside the writer's transaction, with `cdc_sync.origin` set to the vendor's
system; it returns how the event ended (applied, conflict, stale, unmatched, refused) and why. An
event whose every change is older than what the CRM already has (stale) adds no tasks, no timeline
entry and no derived figures: the newer event that is already applied told that story.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from cdc_sync.inbound.writes import Guarded, WriteScope, add_activity, add_task, guarded_update, row_by
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.mapping.normalize import unify_csat
from cdc_sync.rules.consent import OPTED_OUT
from cdc_sync.store.inbox import Status

NEGATIVE_CSAT = 40  # 0-100 scale: 2 of 5 or worse asks customer success to look
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Applied:
    status: Status
    detail: str


Handler = Callable[[WriteScope], Applied]


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
    ticket = row_by(scope, "tickets", "external_id", str(data["ticket_id"]))
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
        return _outcome(guarded, detail)
    if "csat" in changes and not guarded.refused("csat") and ticket["contact_id"] is not None:
        _satisfaction_on_profile(scope, ticket, changes["csat"])
    add_activity(scope, "ticket", ticket["contact_id"], {"ticket": data["ticket_id"], **changes})
    return _outcome(guarded, detail)


def _satisfaction_on_profile(scope: WriteScope, ticket: dict[str, Any], csat: int) -> None:
    contact = row_by(scope, "contacts", "id", ticket["contact_id"])
    if contact is None:
        return
    if guarded_update(scope, "contacts", contact, {"csat_last": csat}).stale:
        return  # a newer satisfaction is already on the profile
    # The health score is the CRM's own derived figure: 70% history, 30% the latest satisfaction.
    old = contact["health_score"]
    health = (
        Decimal(csat) if old is None else (Decimal(old) * Decimal("0.7") + Decimal(csat) * Decimal("0.3"))
    )
    scope.conn.execute(
        text("UPDATE contacts SET health_score = :h WHERE id = :id"),
        {"h": health.quantize(CENTS), "id": contact["id"]},
    )
    if csat <= NEGATIVE_CSAT:
        add_task(
            scope,
            "cs_review",
            "customer_success",
            f"Negative satisfaction ({csat}/100) on ticket {ticket['external_id']}: review the account",
            f"ticket:{ticket['external_id']}",
            contact["id"],
        )


def _order_and_opportunity(scope: WriteScope) -> tuple[dict[str, Any], dict[str, Any]] | None:
    data = scope.event.data
    order = row_by(scope, "orders", "order_no", str(data["order_no"]))
    contract = row_by(scope, "contracts", "contract_no", str(data["contract_no"]))
    if order is None or contract is None or order["contract_id"] != contract["id"]:
        return None
    opportunity = row_by(scope, "opportunities", "id", order["opportunity_id"] or contract["opportunity_id"])
    return (order, opportunity) if opportunity else None


def _unmatched_collection(scope: WriteScope) -> Applied:
    data = scope.event.data
    add_task(
        scope,
        "manual_review",
        "finance",
        f"ERP {scope.event.kind} for order {data['order_no']} / contract {data['contract_no']} "
        "matches no contract",
        f"order:{data['order_no']}",
    )
    return Applied("unmatched", f"order {data['order_no']} / contract {data['contract_no']} not in the CRM")


def collection_recorded(scope: WriteScope) -> Applied:
    """B-1: collection progress and billing status onto the opportunity; reminders; mismatches flagged."""
    found = _order_and_opportunity(scope)
    if found is None:
        return _unmatched_collection(scope)
    order, opportunity = found
    data = scope.event.data
    ratio, amount = Decimal(str(data["collected_ratio"])), Decimal(str(data["amount"]))
    expected = (Decimal(order["amount"]) * ratio).quantize(CENTS)
    matches = amount.quantize(CENTS) == expected
    billing = ("collected" if ratio >= 1 else "partially_collected") if matches else "needs_verification"
    progress = (ratio * 100).quantize(CENTS)
    guarded = guarded_update(
        scope, "opportunities", opportunity, {"collection_progress": progress, "billing_status": billing}
    )
    detail = f"order {order['order_no']}: {progress}% {billing}"
    if guarded.all_stale:
        return _outcome(guarded, detail)
    related = f"order:{order['order_no']}"
    if not matches:
        add_task(
            scope,
            "reminder",
            "finance",
            f"Collection of {amount} on order {order['order_no']} does not match {expected}: "
            "needs verification",
            related,
            opportunity["contact_id"],
        )
    elif not guarded.conflicted and not guarded.stale:
        for role in ("sales", "finance"):
            add_task(
                scope,
                "reminder",
                role,
                "Please confirm subsequent invoice",
                related,
                opportunity["contact_id"],
            )
    add_activity(scope, "payment", opportunity["contact_id"], {**data, "expected": str(expected)})
    return _outcome(guarded, detail)


def refund_recorded(scope: WriteScope) -> Applied:
    """B-1: a refund is an anomaly: billing status refunded and a risk review."""
    found = _order_and_opportunity(scope)
    if found is None:
        return _unmatched_collection(scope)
    order, opportunity = found
    # A refund is an anomaly whatever its age: the risk review opens even when the status is stale.
    guarded = guarded_update(scope, "opportunities", opportunity, {"billing_status": "refunded"})
    add_task(
        scope,
        "risk_review",
        "finance",
        f"Refund recorded on order {order['order_no']}: risk review",
        f"order:{order['order_no']}",
        opportunity["contact_id"],
    )
    add_activity(scope, "payment", opportunity["contact_id"], {**scope.event.data, "anomaly": "refund"})
    return _outcome(guarded, f"order {order['order_no']}: refunded, risk review opened")


def _contact_by_email(scope: WriteScope) -> dict[str, Any] | None:
    found = (
        scope.conn.execute(
            text(
                "SELECT * FROM contacts WHERE lower(email) = :e ORDER BY updated_at DESC LIMIT 1 FOR UPDATE"
            ),
            {"e": str(scope.event.data["email"]).strip().lower()},
        )
        .mappings()
        .first()
    )
    return dict(found) if found else None


def for_contact(handle: Callable[[WriteScope, dict[str, Any]], Applied]) -> Handler:
    """Marketing events name a contact by email; without one in the CRM there is nothing to apply."""

    def with_contact(scope: WriteScope) -> Applied:
        contact = _contact_by_email(scope)
        if contact is None:
            return Applied("unmatched", f"no CRM contact with email {scope.event.data['email']}")
        return handle(scope, contact)

    return with_contact


def _subscription(scope: WriteScope, contact: dict[str, Any]) -> dict[str, Any]:
    existing = row_by(scope, "subscriptions", "contact_id", contact["id"])
    if existing is not None:
        return existing
    scope.conn.execute(
        text("INSERT INTO subscriptions (contact_id, list_id, status) VALUES (:c, :l, 'pending')"),
        {"c": contact["id"], "l": scope.event.data.get("list_id") or "unknown"},
    )
    created = row_by(scope, "subscriptions", "contact_id", contact["id"])
    assert created is not None
    return created


def opted_out(status: str) -> Handler:
    """Unsubscribe (or cleaned) from the platform: it wins everywhere, so no staleness check."""

    def handle(scope: WriteScope, contact: dict[str, Any]) -> Applied:
        subscription = _subscription(scope, contact)
        changes = {"status": status, "unsubscribed_at": scope.event.occurred_at}
        guarded = guarded_update(scope, "subscriptions", subscription, changes, check_stale=False)
        return _outcome(guarded, f"contact {contact['id']} {status}")

    return for_contact(handle)


@for_contact
def subscribed(scope: WriteScope, contact: dict[str, Any]) -> Applied:
    """A subscribe from the platform; after an opt-out it needs consent evidence the webhook lacks."""
    subscription = _subscription(scope, contact)
    if subscription["status"] in OPTED_OUT:
        return Applied(
            "refused",
            f"re-subscribe of contact {contact['id']} refused: the platform's subscribe "
            f"carries no consent_source newer than the opt-out at {subscription['unsubscribed_at']}",
        )
    changes = {
        "status": "subscribed",
        "consent_timestamp": scope.event.occurred_at,
        "consent_source": scope.event.source,
    }
    guarded = guarded_update(scope, "subscriptions", subscription, changes)
    return _outcome(guarded, f"contact {contact['id']} subscribed")


@for_contact
def profile_changed(scope: WriteScope, contact: dict[str, Any]) -> Applied:
    """Profile edits in the platform touch CRM-owned master data: conflicts for review, never applied."""
    merges = scope.event.data.get("merges") or {}
    changes = {
        column: merges[tag]
        for tag, column in (("FNAME", "first_name"), ("LNAME", "last_name"))
        if tag in merges
    }
    new_email = scope.event.data.get("new_email")
    if new_email:
        changes["email"] = new_email
    guarded = guarded_update(scope, "contacts", contact, changes)
    return _outcome(guarded, f"contact {contact['id']} profile: {sorted(changes)}")


@for_contact
def engagement(scope: WriteScope, contact: dict[str, Any]) -> Applied:
    """Clicks and opens: one timeline entry per event id, on the right contact and campaign."""
    campaign_id = _campaign(scope, str(scope.event.data["campaign_id"]))
    kind = {"email.clicked": "email_click", "email.opened": "email_open"}[scope.event.kind]
    details = {key: scope.event.data.get(key) for key in ("campaign_id", "url")}
    added = add_activity(scope, kind, contact["id"], details, campaign_id)
    return Applied("done", f"{kind} on contact {contact['id']}" + ("" if added else " (already recorded)"))


def _campaign(scope: WriteScope, external_id: str) -> int:
    return int(
        scope.conn.execute(
            text(
                "INSERT INTO campaigns (name, external_id) VALUES (:x, :x) "
                "ON CONFLICT (external_id) DO UPDATE SET external_id = excluded.external_id RETURNING id"
            ),
            {"x": external_id},
        ).scalar_one()
    )


def _outcome(guarded: Guarded, detail: str) -> Applied:
    if guarded.conflicted:
        return Applied(
            "conflict", f"{detail}; not applied, in the review queue: {', '.join(guarded.conflicted)}"
        )
    if guarded.stale:
        older = "; ".join(f"{name}: {reason}" for name, reason in guarded.stale.items())
        return Applied("stale", f"{detail}; not applied, the CRM has newer: {older}")
    return Applied("done", detail)


HANDLERS: dict[str, Handler] = {
    "ticket.status_changed": ticket_changed,
    "ticket.priority_changed": ticket_changed,
    "ticket.satisfaction_rated": ticket_changed,
    "collection.recorded": collection_recorded,
    "refund.recorded": refund_recorded,
    "list.unsubscribe": opted_out("unsubscribed"),
    "list.cleaned": opted_out("cleaned"),
    "list.subscribe": subscribed,
    "list.profile": profile_changed,
    "list.upemail": profile_changed,
    "email.clicked": engagement,
    "email.opened": engagement,
}
