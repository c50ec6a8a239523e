"""B-1 as decisions: an ERP collection or refund → the opportunity's billing fields, finance tasks
and the payment timeline entry, planned from what the CRM holds (no database)."""

from decimal import Decimal
from typing import Any

from cdc_sync.model.writes import RowUpdate
from tests.unit.inbound.fake_crm import EARLIER, LATER, FakeCrm, event

ORDER = {"id": 7, "order_no": "SO-1", "amount": Decimal("1000.00"), "contract_id": 3, "opportunity_id": 5}
CONTRACT = {"id": 3, "contract_no": "C-1", "opportunity_id": 5}
OPPORTUNITY = {
    "id": 5,
    "contact_id": 11,
    "collection_progress": Decimal("0"),
    "billing_status": "not_billed",
    "updated_at": EARLIER,
    "sync_origin": None,
}


def crm() -> FakeCrm:
    return FakeCrm({"orders": [ORDER], "contracts": [CONTRACT], "opportunities": [dict(OPPORTUNITY)]})


def collection(amount: str, ratio: str, contract: str = "C-1") -> Any:
    data = {"order_no": "SO-1", "contract_no": contract, "amount": amount, "currency": "EUR"}
    return event("erp", "collection.recorded", "order:SO-1", {**data, "collected_ratio": ratio})


def test_a_matching_partial_collection_sets_progress_and_asks_sales_and_finance_to_confirm() -> None:
    plan = crm().plan(collection("500.00", "0.5"), "erp")

    assert plan.status == "done"
    changes = {"collection_progress": Decimal("50.00"), "billing_status": "partially_collected"}
    assert plan.updates == [RowUpdate("opportunities", "id", 5, changes)]
    assert [(t.kind, t.role, t.title) for t in plan.tasks] == [
        ("reminder", "sales", "Please confirm subsequent invoice"),
        ("reminder", "finance", "Please confirm subsequent invoice"),
    ]
    assert [t.related for t in plan.tasks] == ["order:SO-1", "order:SO-1"]
    assert [(a.kind, a.contact_id, a.details["expected"]) for a in plan.activities] == [
        ("payment", 11, "500.00")
    ]
    assert [(a.action, a.obj, a.after) for a in plan.audits] == [
        (
            "crm.update",
            "opportunity:5",
            {"collection_progress": "50.00", "billing_status": "partially_collected"},
        )
    ]
    assert [(v.table, v.key, v.fields) for v in plan.versions] == [
        ("opportunities", "5", ("collection_progress", "billing_status"))
    ]


def test_a_full_collection_is_collected() -> None:
    plan = crm().plan(collection("1000.00", "1"), "erp")
    assert plan.updates[0].values["billing_status"] == "collected"


def test_an_amount_that_does_not_match_the_ratio_needs_verification_and_one_finance_reminder() -> None:
    plan = crm().plan(collection("450.00", "0.5"), "erp")

    assert plan.updates[0].values == {
        "collection_progress": Decimal("50.00"),
        "billing_status": "needs_verification",
    }
    assert [(t.role, t.title) for t in plan.tasks] == [
        ("finance", "Collection of 450.00 on order SO-1 does not match 500.00: needs verification")
    ]


def test_a_collection_for_an_unknown_contract_writes_nothing_but_a_manual_review() -> None:
    plan = crm().plan(collection("500.00", "0.5", contract="C-404"), "erp")

    assert plan.status == "unmatched"
    assert plan.updates == [] and plan.activities == [] and plan.audits == []
    assert [(t.kind, t.role) for t in plan.tasks] == [("manual_review", "finance")]


def test_a_refund_sets_refunded_and_opens_a_risk_review() -> None:
    refund = event("erp", "refund.recorded", "order:SO-1", {"order_no": "SO-1", "contract_no": "C-1"})
    plan = crm().plan(refund, "erp")

    assert plan.updates == [RowUpdate("opportunities", "id", 5, {"billing_status": "refunded"})]
    assert [(t.kind, t.role) for t in plan.tasks] == [("risk_review", "finance")]
    assert plan.activities[0].details["anomaly"] == "refund"


def test_a_collection_older_than_what_the_fields_hold_is_stale_and_adds_nothing() -> None:
    fake = crm()
    for name in ("collection_progress", "billing_status"):
        fake.versions[("opportunities", "5", name)] = LATER
    plan = fake.plan(collection("500.00", "0.5"), "erp")

    assert plan.status == "stale"
    assert plan.updates == [] and plan.tasks == [] and plan.activities == [] and plan.conflicts == []


def test_a_system_that_does_not_own_billing_gets_conflicts_not_writes() -> None:
    plan = crm().plan(collection("500.00", "0.5"), "helpdesk")

    assert plan.status == "conflict"
    assert plan.updates == []
    assert {c.field for c in plan.conflicts} == {"collection_progress", "billing_status"}
    assert all(c.reason == f"helpdesk does not own opportunities.{c.field}" for c in plan.conflicts)
    assert plan.tasks == []  # no reminders for a collection the CRM did not take
