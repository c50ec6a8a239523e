"""Authority as config: the most specific rule wins; outbound pushes only CRM-owned fields."""

from cdc_sync.config import Owner
from cdc_sync.rules.authority import correctable, corrected_fields, may_write, outbound_fields, owner_of

RULES: dict[str, Owner] = {
    "*": "crm",
    "contacts.csat_last": "helpdesk",
    "subscriptions.status": "both",
    "tickets.status": "helpdesk",
    "activities.*": "marketing",
}


def test_most_specific_rule_wins() -> None:
    assert owner_of(RULES, "public.contacts", "email") == "crm"
    assert owner_of(RULES, "public.contacts", "csat_last") == "helpdesk"
    assert owner_of(RULES, "public.activities", "kind") == "marketing"
    assert owner_of(RULES, "tickets", "status") == "helpdesk"


def test_outbound_keeps_crm_and_shared_fields_only() -> None:
    row = {"id": 1, "email": "a@b.co", "csat_last": 90}
    assert outbound_fields(RULES, "public.contacts", row, "marketing") == {"id": 1, "email": "a@b.co"}
    sub = {"contact_id": 1, "status": "unsubscribed"}
    assert outbound_fields(RULES, "public.subscriptions", sub, "marketing") == sub


def test_a_destination_never_receives_a_field_it_owns() -> None:
    rules: dict[str, Owner] = {"*": "crm", "contacts.lifecycle_stage": "marketing"}
    row = {"id": 1, "lifecycle_stage": "lead"}
    assert "lifecycle_stage" not in outbound_fields(rules, "public.contacts", row, "marketing")


def test_inbound_writes_only_owned_or_shared_fields() -> None:
    assert may_write(RULES, "public.tickets", "status", "helpdesk")
    assert not may_write(RULES, "public.tickets", "subject", "helpdesk")
    assert may_write(RULES, "public.subscriptions", "status", "marketing")
    assert not may_write(RULES, "public.contacts", "email", "marketing")


CORRECTIONS = {"tickets.priority": ("escalation",)}
TICKET_RULES = {"*": "crm", "tickets.*": "helpdesk"}


def test_only_the_owner_of_a_field_receives_corrections_of_it() -> None:
    assert correctable(TICKET_RULES, CORRECTIONS, "public.tickets", "helpdesk") == {
        "priority": frozenset({"escalation"})
    }
    assert correctable(TICKET_RULES, CORRECTIONS, "public.tickets", "marketing") == {}
    assert correctable(TICKET_RULES, CORRECTIONS, "public.contacts", "helpdesk") == {}


def test_a_correction_is_a_changed_field_with_a_reason_in_scope() -> None:
    scope = {"priority": frozenset({"escalation"})}
    before = {"priority": "Normal", "priority_correction": None}
    escalated = {"priority": "Urgent", "priority_correction": "escalation"}
    assert corrected_fields(scope, before, escalated) == {"priority": "Urgent"}
    assert corrected_fields(scope, before, {**escalated, "priority_correction": "mood"}) == {}
    assert corrected_fields(scope, escalated, {**escalated, "subject": "x"}) == {}  # priority unchanged
    assert corrected_fields(scope, None, escalated) == {}  # a new row corrects nothing
