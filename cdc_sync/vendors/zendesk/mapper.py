"""CRM contacts as Zendesk Support users (create_or_update by external_id)."""

from cdc_sync.mapping.routes import NOTHING, MapInput, Mapped, TableMapper
from cdc_sync.model.delivery import BatchForm, VendorRequest


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


MAPPERS: dict[str, TableMapper] = {"public.contacts": contacts}
