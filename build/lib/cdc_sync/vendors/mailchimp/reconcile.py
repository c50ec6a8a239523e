"""Reconciliation's view of the audience: members as the deliveries would leave them, and as
Mailchimp lists them. Keyed by subscriber_hash."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdc_sync.mapping.normalize import PHONE_UNFORMATTED_TAG
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.reconcile import Record, contact_of, masked


@dataclass
class _Member:
    """A Mailchimp member built up by applying requests as the API applies them."""

    contacts: set[int] = field(default_factory=set)
    merge_fields: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # only an explicit `status`; `status_if_new` alone says nothing
    tags: dict[str, bool] = field(default_factory=dict)

    def apply(self, delivery: Delivery) -> None:
        self.contacts.add(contact_of(delivery.entity))
        request, body = delivery.request, delivery.request.body or {}
        if request.path.endswith("/tags"):
            self.tags.update((tag["name"], tag["status"] == "active") for tag in body.get("tags", []))
        elif request.method == "PUT":
            self.merge_fields.update(body.get("merge_fields") or {})
            self.status = body.get("status") or self.status

    def record(self, key: str) -> Record:
        fields = {f"merge_fields.{name}": value for name, value in self.merge_fields.items()}
        if self.status is not None:
            fields["status"] = self.status
        fields["tags"] = tuple(sorted(name for name, active in self.tags.items() if active))
        return Record(key=key, fields=fields, contacts=tuple(sorted(self.contacts)))


def _member_hash(path: str) -> str:
    return path.split("/members/", 1)[1].split("/", 1)[0]


def expected_members(deliveries: Iterable[Delivery]) -> dict[str, Record]:
    """Mailchimp members by subscriber_hash, as the deliveries would leave them."""
    members: dict[str, _Member] = {}
    for delivery in deliveries:
        if delivery.request.method != "DELETE":
            members.setdefault(_member_hash(delivery.request.path), _Member()).apply(delivery)
    return {key: member.record(key) for key, member in members.items()}


def vendor_member(member: Mapping[str, Any], vocabulary: frozenset[str]) -> Record | None:
    """A list member as compared; archived members are out of the audience (None).

    Only tags the CRM knows (its `tags` table) or cdc-sync sets count: labels marketers add
    in Mailchimp themselves are theirs.
    """
    if member.get("status") == "archived":
        return None
    merge_fields = member.get("merge_fields") or {}
    fields: dict[str, Any] = {f"merge_fields.{name}": value for name, value in merge_fields.items()}
    known = vocabulary | {PHONE_UNFORMATTED_TAG}
    tags = (tag.get("name") for tag in member.get("tags") or [])
    fields |= {"status": member.get("status"), "tags": tuple(sorted(t for t in tags if t in known))}
    label = f"member {member.get('id')} ({masked(member.get('email_address'))})"
    return Record(key=str(member.get("id")), fields=fields, label=label)
