"""CRM contacts as Zendesk Support users (create_or_update by external_id)."""

from cdc_sync.delivery.model import VendorRequest
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.mapping.normalize import (
    normalize_country,
    normalize_email,
    normalize_locale,
    normalize_phone,
    normalize_timezone,
)
from cdc_sync.mapping.routes import NOTHING, MapInput, Mapped, TableMapper


def contacts(item: MapInput) -> Mapped:
    if item.event.op == "d" or item.after is None:
        return NOTHING  # the helpdesk keeps its users' history; nothing to push
    row = item.after
    email = normalize_email(row.get("email"))
    country = normalize_country(row.get("country"))
    phone = normalize_phone(row.get("phone"), country)
    stage = map_enum(EnumKind.LIFECYCLE_STAGE, row.get("lifecycle_stage"))
    name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part) or email
    user = {
        "email": email,
        "name": name,
        "phone": phone.value,
        "external_id": str(row["id"]),
        "user_fields": {
            "country": country,
            "locale": normalize_locale(row.get("locale")),
            "timezone": normalize_timezone(row.get("timezone")),
            "lifecycle_stage": stage.value,
            "phone_unformatted": not phone.formatted and phone.value is not None,
        },
    }
    request = VendorRequest(method="POST", path="/api/v2/users/create_or_update", body={"user": user})
    delivery = item.delivery(f"contact:{row['id']}", "user.create_or_update", request)
    return Mapped((delivery,), unknown_enums=() if stage.known else ("lifecycle_stage",))


MAPPERS: dict[str, TableMapper] = {"public.contacts": contacts}
