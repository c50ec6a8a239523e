"""What ERP events do to the CRM (scenario B-1): collection progress and billing status onto the
opportunity, reminders to confirm the next invoice, mismatches and refunds flagged for finance."""

from decimal import Decimal
from typing import Any

from cdc_sync.inbound.writes import Applied, WriteScope, add_activity, add_task, guarded_update, outcome

CENTS = Decimal("0.01")
Found = tuple[dict[str, Any], dict[str, Any]]


def _order_and_opportunity(scope: WriteScope) -> Found | None:
    data, reads = scope.event.data, scope.reads
    order = reads.row("orders", "order_no", str(data["order_no"]))
    contract = reads.row("contracts", "contract_no", str(data["contract_no"]))
    if order is None or contract is None or order["contract_id"] != contract["id"]:
        return None
    opportunity = reads.row("opportunities", "id", order["opportunity_id"] or contract["opportunity_id"])
    return (order, opportunity) if opportunity else None


def _unmatched(scope: WriteScope) -> Applied:
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


def billing_status(ratio: Decimal, matches: bool) -> str:
    if not matches:
        return "needs_verification"
    return "collected" if ratio >= 1 else "partially_collected"


def collection_recorded(scope: WriteScope) -> Applied:
    """B-1: collection progress and billing status onto the opportunity; reminders; mismatches flagged."""
    found = _order_and_opportunity(scope)
    if found is None:
        return _unmatched(scope)
    order, opportunity = found
    data = scope.event.data
    ratio, amount = Decimal(str(data["collected_ratio"])), Decimal(str(data["amount"]))
    expected = (Decimal(order["amount"]) * ratio).quantize(CENTS)
    matches = amount.quantize(CENTS) == expected
    billing, progress = billing_status(ratio, matches), (ratio * 100).quantize(CENTS)
    guarded = guarded_update(
        scope, "opportunities", opportunity, {"collection_progress": progress, "billing_status": billing}
    )
    detail = f"order {order['order_no']}: {progress}% {billing}"
    if guarded.all_stale:
        return outcome(guarded, detail)
    related, contact = f"order:{order['order_no']}", opportunity["contact_id"]
    if not matches:
        title = f"Collection of {amount} on order {order['order_no']} does not match {expected}: "
        add_task(scope, "reminder", "finance", title + "needs verification", related, contact)
    elif not guarded.conflicted and not guarded.stale:
        for role in ("sales", "finance"):
            add_task(scope, "reminder", role, "Please confirm subsequent invoice", related, contact)
    add_activity(scope, "payment", contact, {**data, "expected": str(expected)})
    return outcome(guarded, detail)


def refund_recorded(scope: WriteScope) -> Applied:
    """B-1: a refund is an anomaly: billing status refunded and a risk review."""
    found = _order_and_opportunity(scope)
    if found is None:
        return _unmatched(scope)
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
    return outcome(guarded, f"order {order['order_no']}: refunded, risk review opened")


HANDLERS = {"collection.recorded": collection_recorded, "refund.recorded": refund_recorded}
