"""CRM contacts as Zendesk Support users (create_or_update by external_id), and CRM corrections
of a ticket's priority (the helpdesk's field) as a safe ticket update."""

from datetime import UTC, datetime
from typing import Any

from cdc_sync.mapping.routes import NOTHING, MapInput, Mapped, TableMapper
from cdc_sync.model.delivery import BatchForm, Correction, VendorRequest
from cdc_sync.rules.authority import correction_reason_column

CORRECT_PRIORITY = "ticket.priority.correct"


def contacts(item: MapInput) -> Mapped:
    if item.event.op == "d" or item.after is None:
        return NOTHING  # the helpdesk keeps its users' history; nothing to push
    row, normalized = item.after, item.normalized
    email = normalized.email(row.get("email"))
    country = normalized.country(row.get("country"))
    phone = normalized.phone(row.get("phone"), row.get("country"))
    stage = normalized.lifecycle_stage(row.get("lifecycle_stage"))
    name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part) or email
    user = {
        "email": email,
        "name": name,
        "phone": phone.value,
        "external_id": str(row["id"]),
        "user_fields": {
            "country": country,
            "locale": normalized.locale(row.get("locale")),
            "timezone": normalized.timezone(row.get("timezone")),
            "lifecycle_stage": stage.value,
            "phone_unformatted": not phone.formatted and phone.value is not None,
        },
    }
    request = VendorRequest(
        method="POST",
        path="/api/v2/users/create_or_update",
        body={"user": user},
        batch=BatchForm(group="users", item=user),  # create_or_update_many takes the same user
        merge_key=f"user {row['id']}",
    )
    delivery = item.delivery(f"contact:{row['id']}", "user.create_or_update", request)
    return Mapped((delivery,), unknown_enums=() if stage.known else ("lifecycle_stage",))


def tickets(item: MapInput) -> Mapped:
    """Only a correction reaches here with `priority` (authority keeps the helpdesk's field from
    every other change): `PUT /api/v2/tickets/{id}` as a safe update naming the helpdesk's
    `updated_at` the CRM last applied, so a helpdesk change made meanwhile is refused (409), not
    overwritten. A case the helpdesk never had (no external id) has nothing to correct."""
    row = item.event.after or {}
    if item.after is None or "priority" not in item.after or not row.get("external_id"):
        return NOTHING
    ticket: dict[str, Any] = {"priority": str(item.after["priority"]).lower()}
    if row.get("helpdesk_updated_at") is not None:
        ticket |= {"safe_update": True, "updated_stamp": _zendesk_time(row["helpdesk_updated_at"])}
    correction = Correction(
        table="tickets",
        row_id=row["id"],
        field="priority",
        crm_value=item.after["priority"],
        reason=str(row.get(correction_reason_column("priority"))),
    )
    path = f"/api/v2/tickets/{row['external_id']}"
    request = VendorRequest(method="PUT", path=path, body={"ticket": ticket}, correction=correction)
    return Mapped((item.delivery(f"ticket:{row['id']}", CORRECT_PRIORITY, request),))


def _zendesk_time(value: datetime | str) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


MAPPERS: dict[str, TableMapper] = {"public.contacts": contacts, "public.tickets": tickets}
