"""A helpdesk ticket's life in the CRM: created in the helpdesk → a CRM case (a `tickets` row)
linked to the requester's contact and open opportunity; solved or closed → resolution code and
summary, time to resolve, closed_at, and the figures written back onto the opportunity and the
contact's service record; solved and then opened again → flagged reopened.

`lifecycle` is the pure rule; the handlers around it read and write through the `WriteScope`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cdc_sync.inbound.writes import WriteScope, create, guarded_update
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.model.writes import Row

SOLVED = frozenset({"Resolved", "Closed"})
RESOLUTION_TAG = "resolution_"  # a Zendesk tag `resolution_<code>` names how the ticket was solved
INSTANTS = ("sla_due_at", "helpdesk_updated_at")  # event data keys that are `tickets` timestamps
# Ticket fields the helpdesk sets by its own ids (the same name in the event data and in `tickets`).
REFERENCES = ("assignee_ref", "queue", "category", "account_ref")


@dataclass(frozen=True)
class Lifecycle:
    ticket: dict[str, Any]  # what the status change does to the ticket beside its status
    solved: bool  # solved or closed now: its figures go onto the opportunity and the contact


def lifecycle(ticket: Row, status: str, at: datetime, tags: Sequence[str]) -> Lifecycle:
    """What moving `ticket` to `status` at `at` means beside the status itself."""
    was = ticket.get("status")
    if status in SOLVED and was != status and was != "Closed":
        code = resolution_code(tags) or ticket.get("resolution_code")
        line = f"{at:%Y-%m-%dT%H:%MZ} {status}" + (f" ({code})" if code else "")
        changes: dict[str, Any] = {
            "time_to_resolve_ms": elapsed_ms(opened_at(ticket), at),
            "resolution_code": code,
            "resolution_summary": "\n".join(filter(None, [ticket.get("resolution_summary"), line])),
            "closed_at": at,
        }
        return Lifecycle(changes, solved=True)
    if was in SOLVED and status not in SOLVED:
        return Lifecycle({"reopened": True, "closed_at": None}, solved=False)
    return Lifecycle({}, solved=False)


def resolution_code(tags: Sequence[str]) -> str | None:
    codes = [tag.removeprefix(RESOLUTION_TAG) for tag in tags if tag.startswith(RESOLUTION_TAG)]
    return codes[-1] if codes else None


def opened_at(ticket: Row) -> datetime | None:
    return ticket.get("opened_at") or ticket.get("created_at")


def elapsed_ms(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds() * 1000))


def requester_contact(scope: WriteScope, data: dict[str, Any]) -> int | None:
    """The requester's CRM contact: through the helpdesk user id cdc-sync's deliveries learnt,
    else the requester's `external_id` when the payload carries it (trigger bodies do)."""
    ref = data.get("requester_ref")
    entity = scope.reads.vendor_entity(scope.system, ref) if ref else None
    kind, _, key = (entity or "").partition(":")
    if kind == "contact" and key.isdigit():
        return int(key)
    external = str(data.get("requester_external_id") or "")
    if external.isdigit() and scope.reads.row("contacts", "id", int(external)) is not None:
        return int(external)
    return None


def case_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The ticket's helpdesk-owned fields an event states (unknown enum values left out: the CRM's
    CHECK constraints hold only known ones)."""
    fields = _enum_fields(data)
    if "priority" in fields:
        fields["priority_correction"] = None  # the helpdesk's word is the latest: a correction is spent
    fields |= {name: data[name] for name in REFERENCES if data.get(name) is not None}
    fields |= {name: datetime.fromisoformat(data[name]) for name in INSTANTS if data.get(name)}
    return fields


def _enum_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, kind in (("status", EnumKind.TICKET_STATUS), ("priority", EnumKind.TICKET_PRIORITY)):
        mapped = map_enum(kind, data.get(name))
        if data.get(name) and mapped.known:
            fields[name] = mapped.value
    if data.get("channel"):
        fields["channel"] = map_enum(EnumKind.TICKET_CHANNEL, data["channel"]).value
    return fields


def write_back(scope: WriteScope, ticket: Row, changes: dict[str, Any]) -> None:
    """A solved case's figures onto its opportunity, and the service time onto its contact."""
    at = scope.event.occurred_at
    opportunity = ticket.get("opportunity_id")
    row = scope.reads.row("opportunities", "id", opportunity) if opportunity is not None else None
    if row is not None:
        figures = {
            "service_resolution_code": changes["resolution_code"],
            "service_summary": changes["resolution_summary"],
            "service_first_response_ms": ticket.get("first_response_ms"),
            "service_time_to_resolve_ms": changes["time_to_resolve_ms"],
            "service_closed_at": at,
            "service_reopened": bool(ticket.get("reopened")),
        }
        guarded_update(scope, "opportunities", row, figures)
    contact = ticket.get("contact_id")
    if contact is None:
        return
    service = scope.reads.row("contact_service", "contact_id", contact)
    values = {"last_service_at": at, "last_case_id": ticket["id"]}
    if service is None:
        create(scope, "contact_service", {"contact_id": contact, **values})
    else:
        guarded_update(scope, "contact_service", service, values)
