"""What helpdesk events do to the CRM: a ticket created in the helpdesk becomes a CRM case; its
status, priority, channel, assignee, group and type follow it (scenario C-1), with the lifecycle
of `cases` on a solve, close or reopen; comments become interaction records; satisfaction goes
onto the case, the contact's profile and health score."""

from datetime import datetime
from typing import Any

from cdc_sync.inbound.writes import (
    Applied,
    WriteScope,
    add_activity,
    add_task,
    create,
    guarded_update,
    outcome,
)
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.mapping.normalize import unify_csat
from cdc_sync.mapping.transcripts import transcript
from cdc_sync.model.writes import Row
from cdc_sync.rules.opportunities import open_opportunity_in
from cdc_sync.vendors.zendesk.cases import (
    case_fields,
    elapsed_ms,
    lifecycle,
    opened_at,
    requester_contact,
    write_back,
)

NEGATIVE_CSAT = 40  # 0-100 scale: 2 of 5 or worse asks customer success to look


def ticket_created(scope: WriteScope) -> Applied:
    """`ticket.created`: a new CRM case; a ticket the CRM already has takes it as a change."""
    data = scope.event.data
    external_id = str(data["ticket_id"])
    if scope.reads.row("tickets", "external_id", external_id) is not None:
        return ticket_changed(scope)
    contact_id = requester_contact(scope, data)
    opportunities = [] if contact_id is None else scope.reads.rows("opportunities", "contact_id", contact_id)
    opened = data.get("opened_at")
    values = {
        "external_id": external_id,
        "subject": data.get("subject") or f"Helpdesk ticket {external_id}",
        "contact_id": contact_id,
        "requester_ref": data.get("requester_ref"),
        "opportunity_id": open_opportunity_in(opportunities),
        "opened_at": datetime.fromisoformat(opened) if opened else scope.event.occurred_at,
        **case_fields(data),
    }
    create(scope, "tickets", values)
    add_activity(scope, "ticket", contact_id, {"ticket": external_id, "created": True})
    linked = "no contact" if contact_id is None else f"contact {contact_id}"
    return Applied("done", f"ticket {external_id}: a new CRM case for {linked}")


def _unmatched(scope: WriteScope, ticket_id: Any) -> Applied:
    """The CRM has no such ticket yet: the event waits (the inbox retries it when an event of the
    same ticket applies, e.g. its `ticket.created`); someone is asked to look meanwhile."""
    add_task(
        scope,
        "manual_review",
        "customer_success",
        f"Helpdesk ticket {ticket_id} has no CRM ticket",
        f"ticket:{ticket_id}",
    )
    return Applied("unmatched", f"no CRM ticket with external_id {ticket_id}")


def ticket_changed(scope: WriteScope) -> Applied:
    """C-1: the ticket's fields onto the CRM case; its lifecycle when the status moved; the
    satisfaction onto the contact's profile."""
    data = scope.event.data
    ticket = scope.reads.row("tickets", "external_id", str(data["ticket_id"]))
    if ticket is None:
        return _unmatched(scope, data["ticket_id"])
    changes = case_fields(data)
    if data.get("satisfaction_score") is not None:
        changes["csat"] = unify_csat(data["satisfaction_score"], 5)
    guarded = guarded_update(scope, "tickets", ticket, changes)
    detail = f"ticket {data['ticket_id']}: {changes}"
    if guarded.all_stale:
        return outcome(guarded, detail)
    if "status" in guarded.applied:
        _moved(scope, ticket, changes["status"], data.get("tags") or [])
    if "csat" in changes and not guarded.refused("csat") and ticket["contact_id"] is not None:
        _satisfaction_on_profile(scope, ticket, changes["csat"])
    add_activity(scope, "ticket", ticket["contact_id"], {"ticket": data["ticket_id"], **changes})
    return outcome(guarded, detail)


def _moved(scope: WriteScope, ticket: Row, status: str, tags: list[str]) -> None:
    moved = lifecycle(ticket, status, scope.event.occurred_at, tags)
    if not moved.ticket:
        return
    guarded_update(scope, "tickets", ticket, moved.ticket, check_stale=False)
    if moved.solved:
        write_back(scope, ticket, moved.ticket)


def comment_added(scope: WriteScope) -> Applied:
    """`ticket.comment_added`: one interaction record per comment (transcript as masked Markdown);
    the first public reply of an agent sets the case's first-response time."""
    data = scope.event.data
    comment = data.get("comment")
    if not comment:
        return Applied("rejected", "ticket.comment_added without its comment")
    ticket = scope.reads.row("tickets", "external_id", str(data["ticket_id"]))
    if ticket is None:
        return Applied(
            "unmatched", f"no CRM ticket with external_id {data['ticket_id']} for comment {comment['id']}"
        )
    if scope.reads.row("interactions", "external_id", str(comment["id"])) is not None:
        return Applied("done", f"comment {comment['id']} is already an interaction")
    at = scope.event.occurred_at
    by_agent = bool(comment["by_agent"])
    interaction = {
        "external_id": str(comment["id"]),
        "contact_id": ticket["contact_id"],
        "case_id": ticket["id"],
        "channel": map_enum(EnumKind.TICKET_CHANNEL, data.get("channel")).value,
        "agent_ref": comment["author_ref"] if by_agent else None,
        "public": bool(comment["public"]),
        "started_at": at,
        "ended_at": at,
        "notes": transcript(comment["body"]),
    }
    create(scope, "interactions", interaction)
    if by_agent and comment["public"] and ticket.get("first_response_ms") is None:
        first = {"first_response_ms": elapsed_ms(opened_at(ticket), at)}
        guarded_update(scope, "tickets", ticket, first, check_stale=False)
    return Applied("done", f"ticket {data['ticket_id']}: comment {comment['id']} recorded")


def _satisfaction_on_profile(scope: WriteScope, ticket: Row, csat: int) -> None:
    contact = scope.reads.row("contacts", "id", ticket["contact_id"])
    if contact is None:
        return
    # The CRM derives its health score from the satisfaction it takes (its trigger on csat_last).
    if guarded_update(scope, "contacts", contact, {"csat_last": csat}).stale:
        return  # a newer satisfaction is already on the profile
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
    "ticket.created": ticket_created,
    "ticket.status_changed": ticket_changed,
    "ticket.priority_changed": ticket_changed,
    "ticket.agent_assignment_changed": ticket_changed,
    "ticket.group_assignment_changed": ticket_changed,
    "ticket.comment_added": comment_added,
    "ticket.satisfaction_rated": ticket_changed,
}
