"""Consent through the batch paths: what the Mailchimp mapper lets a batch call do."""

from typing import Any

import pytest

from cdc_sync.events import Op
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.pipeline import plan_event
from tests.unit.outbound.test_pipeline import CONTACT, ROUTES, event

LOOKUPS = Lookups(contacts={7: CONTACT}, tags={3: "vip"})


def deliveries(
    table: str, op: Op, after: dict[str, Any] | None, before: dict[str, Any] | None = None
) -> list[Delivery]:
    plan = plan_event(event(table, op, after, before), ROUTES, lambda e: 1, {"*": "crm"}, LOOKUPS)
    return [d for d in plan.deliveries if d.destination == "marketing"]


def batch_forms(items: list[Delivery]) -> list[tuple[str, dict[str, Any]]]:
    return [(d.request.batch.group, d.request.batch.item) for d in items if d.request.batch]


@pytest.mark.parametrize("op", ["c", "r", "u"])
def test_master_data_never_batches_a_status_other_than_transactional_for_new_members(op: Op) -> None:
    before = {**CONTACT, "first_name": "Old"} if op == "u" else None
    forms = batch_forms(deliveries("public.contacts", op, CONTACT, before))
    assert all(group != "members.status" for group, _ in forms)
    assert all(item["status"] == "transactional" for group, item in forms if group == "members.new")
    assert all("status_if_new" not in item for _, item in forms)  # the batch API has no such field


def test_an_update_of_an_existing_contact_keeps_the_per_member_put() -> None:
    (upsert,) = [
        d for d in deliveries("public.contacts", "u", CONTACT, CONTACT) if d.operation == "member.upsert"
    ]
    assert upsert.request.batch is None and upsert.request.method == "PUT"


def test_tags_batch_only_as_segment_membership() -> None:
    row = {"contact_id": 7, "tag_id": 3}
    groups = [group for group, _ in batch_forms(deliveries("public.contact_tags", "c", row))]
    assert groups == ["members.new", "segment:vip"]  # the member is ensured (as transactional) first


def test_a_resubscribe_without_newer_consent_reaches_no_batch() -> None:
    before = {
        "id": 1,
        "contact_id": 7,
        "status": "unsubscribed",
        "consent_timestamp": "2026-01-02T00:00:00+00:00",
    }
    after = {**before, "status": "subscribed"}
    plan = plan_event(
        event("public.subscriptions", "u", after, before), ROUTES, lambda e: 1, {"*": "crm"}, LOOKUPS
    )
    assert plan.deliveries == [] and plan.rejections


def test_a_consented_subscription_change_is_the_only_status_batch() -> None:
    before = {"id": 1, "contact_id": 7, "status": "pending", "consent_timestamp": None}
    after = {**before, "status": "subscribed", "consent_timestamp": "2026-01-02T00:00:00+00:00"}
    assert batch_forms(deliveries("public.subscriptions", "u", after, before)) == [
        ("members.status", {"email_address": "ada@example.com", "status": "subscribed"})
    ]
