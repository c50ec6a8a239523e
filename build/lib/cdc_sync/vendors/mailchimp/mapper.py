"""CRM changes as Mailchimp Marketing API 3.0 requests (audience members, member tags)."""

import hashlib
from typing import Any

from cdc_sync.errors import RejectedEvent
from cdc_sync.mapping.normalize import PHONE_UNFORMATTED_TAG, email_key, sanitize_tags
from cdc_sync.mapping.routes import NOTHING, MapInput, Mapped, TableMapper, contact_id
from cdc_sync.model.delivery import BatchForm, VendorRequest
from cdc_sync.rules.consent import check_resubscribe
from cdc_sync.vendors.mailchimp.options import MailchimpOptions

ARCHIVE = "member.archive"
# Batch groups (cdc_sync/vendors/mailchimp/batch.py says why each is consent-safe).
NEW_MEMBERS = "members.new"
STATUS_CHANGES = "members.status"
# Changes that create the row: its member is most likely new, so it may go in a batch subscribe.
CREATING = frozenset({"c", "r"})

# Contacts exist in the audience for transactional mail until a subscription says otherwise:
# pushing master data must never subscribe anyone.
STATUS_IF_NEW = "transactional"


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email_key(email).encode()).hexdigest()  # the member id Mailchimp defines


def _members(item: MapInput, email: str) -> str:
    return f"/3.0/lists/{MailchimpOptions.of(item.config).list_id}/members/{subscriber_hash(email)}"


def _entity(cid: Any) -> str:
    return f"contact:{cid}"


def _new_member(item: dict[str, Any]) -> BatchForm:
    """A member added as transactional, never updating an existing one (`update_existing: false`)."""
    return BatchForm(group=NEW_MEMBERS, item={**item, "status": STATUS_IF_NEW})


def _tag_change(email: str, name: str, status: str) -> BatchForm:
    return BatchForm(group=f"segment:{name}", item={"email_address": email, "status": status})


def _contact_upsert(item: MapInput) -> Mapped:
    row, normalized = item.image, item.normalized
    email = normalized.email(row.get("email"))
    phone = normalized.phone(row.get("phone"), row.get("country"))
    stage = normalized.lifecycle_stage(row.get("lifecycle_stage"))
    locale = normalized.locale(row.get("locale"))
    merge_fields = {
        "FNAME": row.get("first_name") or "",
        "LNAME": row.get("last_name") or "",
        "PHONE": phone.value or "",
        "COUNTRY": normalized.country(row.get("country")) or "",
        "STAGE": stage.value,
    }
    body: dict[str, Any] = {
        "email_address": email,
        "status_if_new": STATUS_IF_NEW,
        "merge_fields": merge_fields,
    }
    if locale:
        body["language"] = locale.split("-")[0]
    path = _members(item, _previous_email(item) or email)
    member = {key: value for key, value in body.items() if key != "status_if_new"}
    upsert = VendorRequest(
        method="PUT",
        path=path,
        body=body,
        batch=_new_member(member) if item.event.op in CREATING else None,
        merge_key=f"PUT {path}",
    )
    deliveries = [item.delivery(_entity(row["id"]), "member.upsert", upsert)]
    if not phone.formatted and phone.value:
        tags = {"tags": [{"name": PHONE_UNFORMATTED_TAG, "status": "active"}]}
        request = VendorRequest(
            method="POST",
            path=f"{_members(item, email)}/tags",
            body=tags,
            batch=_tag_change(email, PHONE_UNFORMATTED_TAG, "active"),
        )
        deliveries.append(item.delivery(_entity(row["id"]), "member.tags.phone", request))
    return Mapped(tuple(deliveries), unknown_enums=() if stage.known else ("lifecycle_stage",))


def _previous_email(item: MapInput) -> str | None:
    """A changed address updates the member found under the old one (Mailchimp's upemail)."""
    old = (item.before or {}).get("email")
    if item.event.op != "u" or not old or old == (item.after or {}).get("email"):
        return None
    try:
        return item.normalized.email(old)
    except RejectedEvent:
        return None


def _contact_archive(item: MapInput) -> Mapped:
    try:
        email = item.normalized.email((item.before or {}).get("email"))
    except RejectedEvent:
        return NOTHING  # never reached the audience
    request = VendorRequest(method="DELETE", path=_members(item, email), not_found_ok=True)
    return Mapped((item.delivery(_entity((item.before or {}).get("id")), ARCHIVE, request),))


def contacts(item: MapInput) -> Mapped:
    return _contact_archive(item) if item.event.op == "d" else _contact_upsert(item)


def _contact_email(item: MapInput) -> str | None:
    cid = contact_id(item.image.get("contact_id"))
    contact = item.lookups.contacts.get(cid) if cid is not None else None
    return item.normalized.email(contact.get("email")) if contact else None


def contact_tags(item: MapInput) -> Mapped:
    cid = item.image.get("contact_id")
    email = _contact_email(item)
    name = item.lookups.tags.get(int(item.image.get("tag_id") or 0))
    if email is None or name is None:
        return NOTHING  # the contact or tag is gone; its own delete covers the audience
    tags = sanitize_tags([name])
    if not tags.kept:
        return Mapped(rejected_tags=tags.rejected)
    status = "inactive" if item.event.op == "d" else "active"
    path = f"{_members(item, email)}/tags"
    tag_request = VendorRequest(
        method="POST",
        path=path,
        body={"tags": [{"name": tags.kept[0], "status": status}]},
        not_found_ok=status == "inactive",
        batch=_tag_change(email, tags.kept[0], status),
        merge_key=f"POST {path} {tags.kept[0]}",
    )
    deliveries = [item.delivery(_entity(cid), "member.tags", tag_request)]
    if status == "active":
        # Tag events travel on their own topic and may overtake the contact's first upsert.
        ensure = VendorRequest(
            method="PUT",
            path=_members(item, email),
            body={"email_address": email, "status_if_new": STATUS_IF_NEW},
            batch=_new_member({"email_address": email}),
        )
        deliveries.insert(0, item.delivery(_entity(cid), "member.ensure", ensure))
    return Mapped(tuple(deliveries))


def subscriptions(item: MapInput) -> Mapped:
    if item.event.op == "d" or item.after is None:
        return NOTHING
    cid = item.after.get("contact_id")
    check_resubscribe(item.before, item.after, f"contact {cid}")
    email = _contact_email(item)
    if email is None:
        return NOTHING
    status = str(item.after["status"])
    body = {"email_address": email, "status_if_new": status, "status": status}
    path = _members(item, email)
    # Only here, after check_resubscribe, may a batch change a member's status.
    change = BatchForm(group=STATUS_CHANGES, item={"email_address": email, "status": status})
    request = VendorRequest(method="PUT", path=path, body=body, batch=change, merge_key=f"status {path}")
    return Mapped((item.delivery(_entity(cid), "member.status", request),))


MAPPERS: dict[str, TableMapper] = {
    "public.contacts": contacts,
    "public.contact_tags": contact_tags,
    "public.subscriptions": subscriptions,
}
