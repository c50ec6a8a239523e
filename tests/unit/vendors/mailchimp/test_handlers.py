"""Subscriptions and clicks as decisions: list events onto the contact's subscription under the
consent rules, engagement onto the timeline once per event, planned without a database."""

from typing import Any

from cdc_sync.model.writes import NewRow, RowUpdate
from tests.unit.inbound.fake_crm import AT, EARLIER, FakeCrm, event

CONTACT = {
    "id": 11,
    "email": "Ada@Example.com",
    "first_name": "Ada",
    "updated_at": EARLIER,
    "sync_origin": None,
}


def crm(subscription: dict[str, Any] | None = None) -> FakeCrm:
    tables = {"contacts": [CONTACT], "subscriptions": [subscription] if subscription else []}
    return FakeCrm(tables)


def list_event(kind: str, email: str = " ada@example.COM ") -> Any:
    data: dict[str, Any] = {"email": email, "list_id": "aud", "merges": {}, "new_email": None, "reason": None}
    return event("marketing-lists", f"list.{kind}", f"email:{email}", data)


def test_an_unsubscribe_for_a_contact_without_subscription_creates_it_and_opts_out() -> None:
    plan = crm().plan(list_event("unsubscribe"), "marketing")

    assert plan.status == "done"
    assert plan.creates == [
        NewRow("subscriptions", {"contact_id": 11, "list_id": "aud", "status": "pending"})
    ]
    assert plan.updates == [
        RowUpdate("subscriptions", "contact_id", 11, {"status": "unsubscribed", "unsubscribed_at": AT})
    ]
    # The new row is audited too (consent changes under the contact's name), then the opt-out.
    assert [(a.action, a.obj, a.before, a.after["status"]) for a in plan.audits] == [
        ("subscription.change", "contact:11", None, "pending"),
        ("subscription.change", "contact:11", {"status": "pending", "unsubscribed_at": None}, "unsubscribed"),
    ]


def test_the_platform_s_unsubscribe_reason_is_kept_with_the_opt_out() -> None:
    unsubscribe = list_event("unsubscribe")
    unsubscribe = unsubscribe.model_copy(update={"data": {**unsubscribe.data, "reason": "abuse"}})
    plan = crm().plan(unsubscribe, "marketing")
    assert plan.updates[0].values == {
        "status": "unsubscribed",
        "unsubscribed_at": AT,
        "unsubscribe_reason": "abuse",
    }


def test_a_subscribe_after_an_opt_out_is_refused_and_writes_nothing() -> None:
    opted_out = {
        "contact_id": 11,
        "status": "unsubscribed",
        "unsubscribed_at": EARLIER,
        "updated_at": EARLIER,
    }
    plan = crm(opted_out).plan(list_event("subscribe"), "marketing")

    assert plan.status == "refused"
    assert "re-subscribe of contact 11 refused" in plan.detail
    assert plan.creates == [] and plan.updates == [] and plan.audits == []


def test_a_redelivered_opt_out_with_a_moved_fired_at_changes_nothing() -> None:
    opted_out = {
        "contact_id": 11,
        "status": "unsubscribed",
        "unsubscribed_at": EARLIER,
        "updated_at": EARLIER,
    }
    plan = crm(opted_out).plan(list_event("unsubscribe"), "marketing")  # a new id: fired_at differs
    assert (plan.status, plan.updates, plan.audits) == ("stale", [], [])
    assert "already unsubscribed" in plan.detail


def test_an_opt_out_with_a_new_reason_or_status_is_applied() -> None:
    opted_out = {
        "contact_id": 11,
        "status": "unsubscribed",
        "unsubscribed_at": EARLIER,
        "updated_at": EARLIER,
    }
    cleaned = crm(opted_out).plan(list_event("cleaned"), "marketing")
    assert cleaned.status == "done" and cleaned.updates[0].values["status"] == "cleaned"
    abuse = list_event("unsubscribe")
    abuse = abuse.model_copy(update={"data": {**abuse.data, "reason": "abuse"}})
    assert crm(opted_out).plan(abuse, "marketing").updates[0].values["unsubscribe_reason"] == "abuse"


def test_a_redelivered_subscribe_changes_nothing() -> None:
    subscribed = {
        "contact_id": 11,
        "status": "subscribed",
        "consent_timestamp": EARLIER,
        "updated_at": EARLIER,
    }
    plan = crm(subscribed).plan(list_event("subscribe"), "marketing")
    assert (plan.status, plan.updates) == ("stale", [])


def test_a_profile_edit_from_the_platform_is_a_conflict_on_crm_owned_data() -> None:
    profile = list_event("profile")
    profile = profile.model_copy(update={"data": {**profile.data, "merges": {"FNAME": "Augusta"}}})
    plan = crm().plan(profile, "marketing")

    assert plan.status == "conflict"
    assert [(c.field, c.crm_value, c.vendor_value) for c in plan.conflicts] == [
        ("first_name", "Ada", "Augusta")
    ]
    assert plan.updates == []


def click() -> Any:
    data = {"email": "ada@example.com", "campaign_id": "cmp-1", "url": "https://example.com/x"}
    return event("marketing", "email.clicked", "email:ada@example.com", data)


def test_a_click_is_one_timeline_entry_on_the_contact_and_its_campaign() -> None:
    plan = crm().plan(click(), "marketing")

    assert [(a.kind, a.contact_id, a.campaign_external_id, dict(a.details)) for a in plan.activities] == [
        ("email_click", 11, "cmp-1", {"campaign_id": "cmp-1", "url": "https://example.com/x"})
    ]


def test_a_click_already_on_the_timeline_is_not_added_twice() -> None:
    fake = crm()
    fake.activities.add(("marketing", "ev-1"))
    plan = fake.plan(click(), "marketing")

    assert plan.activities == []
    assert plan.detail.endswith("(already recorded)")


def test_an_address_no_contact_has_is_unmatched() -> None:
    plan = crm().plan(list_event("unsubscribe", email="nobody@example.com"), "marketing")
    assert plan.status == "unmatched"
    assert plan.creates == [] and plan.updates == []


def test_an_email_two_contacts_share_waits_for_a_merge_review_and_then_goes_to_the_kept_one() -> None:
    twin = {**CONTACT, "id": 12, "email": "ada@example.com"}
    fake = FakeCrm({"contacts": [CONTACT, twin], "subscriptions": []})
    plan = fake.plan(list_event("unsubscribe"), "marketing")
    assert (plan.status, plan.creates, plan.updates) == ("ambiguous", [], [])
    assert [(m.match_key, m.candidates) for m in plan.merges] == [("email:ada@example.com", (11, 12))]

    fake.merged["email:ada@example.com"] = 12  # `cdc-sync merges resolve ID --keep 12`
    resolved = fake.plan(list_event("unsubscribe"), "marketing")
    assert resolved.status == "done" and resolved.merges == []
    assert resolved.updates[0].key == 12
