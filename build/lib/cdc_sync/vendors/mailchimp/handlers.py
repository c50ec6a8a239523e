"""What marketing events do to the CRM: list subscribes and opt-outs onto the contact's
subscription (consent rules; the CRM's trigger records each change as consent evidence), profile
edits as conflicts, clicks and opens on the timeline."""

from collections.abc import Callable
from typing import Any

from cdc_sync.inbound.writes import (
    Applied,
    WriteScope,
    add_activity,
    contact_by_email,
    create,
    guarded_update,
    outcome,
)
from cdc_sync.mapping.normalize import email_key
from cdc_sync.rules.consent import OPTED_OUT

Handler = Callable[[WriteScope], Applied]
ENGAGEMENT_KINDS = {"email.clicked": "email_click", "email.opened": "email_open"}


def for_contact(handle: Callable[[WriteScope, dict[str, Any]], Applied]) -> Handler:
    """Marketing events name a contact by email: none in the CRM, or several, and they wait."""

    def with_contact(scope: WriteScope) -> Applied:
        contact = contact_by_email(scope, email_key(scope.event.data["email"]))
        return contact if isinstance(contact, Applied) else handle(scope, contact)

    return with_contact


def _subscription(scope: WriteScope, contact: dict[str, Any]) -> dict[str, Any]:
    existing = scope.reads.row("subscriptions", "contact_id", contact["id"])
    if existing is not None:
        return existing
    list_id = scope.event.data.get("list_id") or "unknown"
    values = {"contact_id": contact["id"], "list_id": list_id, "status": "pending"}
    return create(scope, "subscriptions", values)


def _already(subscription: dict[str, Any], status: str) -> bool:
    """List events carry no id: a redelivery whose `fired_at` moved gets a new event id, so the
    state is the dedupe. One that would set what the subscription already says changes nothing
    (not even its times or the consent evidence); a real change in between (an unsubscribe
    between two subscribes) is not hidden, as it would be if the id ignored `fired_at`."""
    return bool(subscription.get("status") == status)


def opted_out(status: str) -> Handler:
    """Unsubscribe (or cleaned) from the platform: it wins everywhere, so no staleness check."""

    def handle(scope: WriteScope, contact: dict[str, Any]) -> Applied:
        subscription = _subscription(scope, contact)
        reason = scope.event.data.get("reason")  # Mailchimp's `manual`, `abuse`, … (kept as evidence)
        if _already(subscription, status) and reason in (None, subscription.get("unsubscribe_reason")):
            return Applied("stale", f"contact {contact['id']} is already {status}: nothing new")
        changes = {"status": status, "unsubscribed_at": scope.event.occurred_at}
        if reason:
            changes["unsubscribe_reason"] = reason
        guarded = guarded_update(scope, "subscriptions", subscription, changes, check_stale=False)
        return outcome(guarded, f"contact {contact['id']} {status}")

    return for_contact(handle)


@for_contact
def subscribed(scope: WriteScope, contact: dict[str, Any]) -> Applied:
    """A subscribe from the platform; after an opt-out it needs consent evidence the webhook lacks."""
    subscription = _subscription(scope, contact)
    if subscription["status"] in OPTED_OUT:
        return Applied(
            "refused",
            f"re-subscribe of contact {contact['id']} refused: the platform's subscribe "
            f"carries no consent_source newer than the opt-out at {subscription.get('unsubscribed_at')}",
        )
    if _already(subscription, "subscribed"):
        return Applied("stale", f"contact {contact['id']} is already subscribed: nothing new")
    changes = {
        "status": "subscribed",
        "consent_timestamp": scope.event.occurred_at,
        "consent_source": scope.event.source,
    }
    guarded = guarded_update(scope, "subscriptions", subscription, changes)
    return outcome(guarded, f"contact {contact['id']} subscribed")


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
    return outcome(guarded, f"contact {contact['id']} profile: {sorted(changes)}")


@for_contact
def engagement(scope: WriteScope, contact: dict[str, Any]) -> Applied:
    """Clicks and opens: one timeline entry per event id, on the right contact and campaign."""
    campaign = str(scope.event.data["campaign_id"])
    kind = ENGAGEMENT_KINDS[scope.event.kind]
    details = {key: scope.event.data.get(key) for key in ("campaign_id", "url")}
    added = add_activity(scope, kind, contact["id"], details, campaign)
    return Applied("done", f"{kind} on contact {contact['id']}" + ("" if added else " (already recorded)"))


HANDLERS: dict[str, Handler] = {
    "list.unsubscribe": opted_out("unsubscribed"),
    "list.cleaned": opted_out("cleaned"),
    "list.subscribe": subscribed,
    "list.profile": profile_changed,
    "list.upemail": profile_changed,
    **dict.fromkeys(ENGAGEMENT_KINDS, engagement),
}
