"""Reading vendors' batch answers item by item (pure: no network)."""

from datetime import UTC, datetime

from cdc_sync.delivery.policy import classify
from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Action, BatchForm, Delivery, Outcome, VendorRequest
from cdc_sync.vendors.mailchimp.batch import member_outcomes, segment_body, segment_outcomes
from cdc_sync.vendors.zendesk.batch import job_outcomes

POSITION = SourcePosition(topic="t", partition=0, offset=1, lsn=1, tx_id=1, commit_ts=datetime.now(UTC))


def delivery(n: int, operation: str = "member.upsert", status: str = "transactional") -> Delivery:
    email = f"Person{n}@Example.com"
    return Delivery(
        destination="d",
        entity=f"contact:{n}",
        table="public.contacts",
        operation=operation,
        request=VendorRequest(
            method="PUT",
            path=f"/m/{n}",
            batch=BatchForm(group="members.new", item={"email_address": email, "status": status}),
            not_found_ok=status == "inactive",
        ),
        idempotency_key=f"k{n}",
        source=POSITION,
    )


PLAIN = VendorRequest(method="PUT", path="/")


def actions(outcomes: list[Outcome]) -> list[Action]:
    return [classify(outcome, PLAIN, 3.0) for outcome in outcomes]


def test_zendesk_job_results_map_to_each_user_in_request_order() -> None:
    job = {
        "status": "completed",
        "results": [
            {"index": 0, "id": 1, "status": "Created"},
            {"index": 2, "status": "Failed", "error": "InvalidValue", "details": "Email is invalid"},
            {"index": 1, "id": 2, "status": "Updated"},
        ],
    }
    outcomes = job_outcomes(job, 4, 0.1)
    assert actions(outcomes) == [Action.OK, Action.OK, Action.DEAD_LETTER, Action.RETRY]
    assert "Email is invalid" in outcomes[2].body


def test_a_failed_zendesk_job_retries_every_user() -> None:
    assert actions(job_outcomes({"status": "killed", "message": "restart"}, 3, 0.1)) == [Action.RETRY] * 3


def test_one_invalid_member_of_500_is_refused_alone() -> None:
    batch = [delivery(n) for n in range(500)]
    body = {
        "new_members": [{"email_address": f"person{n}@example.com"} for n in range(500) if n != 7],
        "errors": [
            {"email_address": "person7@example.com", "error": "looks fake", "error_code": "ERROR_GENERIC"}
        ],
    }
    outcomes = member_outcomes(body, batch, 0.1)
    assert all(outcome is not None for outcome in outcomes)
    assert actions([o for o in outcomes if o is not None]).count(Action.OK) == 499
    assert outcomes[7] is not None and classify(outcomes[7], batch[7].request, 3.0) is Action.DEAD_LETTER


def test_an_existing_member_falls_back_to_its_put_unless_it_only_had_to_exist() -> None:
    batch = [delivery(1), delivery(2, operation="member.ensure")]
    exists = [
        {
            "email_address": f"person{n}@example.com",
            "error": "already a list member",
            "error_code": "ERROR_CONTACT_EXISTS",
        }
        for n in (1, 2)
    ]
    upsert, ensure = member_outcomes({"errors": exists}, batch, 0.1)
    assert upsert is None  # sent alone, as `PUT … status_if_new`, which never subscribes anyone
    assert ensure is not None and ensure.status == 200


def test_segment_items_go_adds_first_and_a_remove_of_an_unknown_member_is_fine() -> None:
    batch = [delivery(1, status="inactive"), delivery(2, status="active"), delivery(3, status="active")]
    body, ordered = segment_body(batch)
    assert body == {
        "members_to_add": ["person2@example.com", "person3@example.com"],
        "members_to_remove": ["person1@example.com"],
    }
    assert [d.idempotency_key for d in ordered] == ["k2", "k3", "k1"]
    errors = {
        "errors": [
            {"email_addresses": ["person1@example.com", "person3@example.com"], "error": "not on list"}
        ]
    }
    assert actions(segment_outcomes(errors, ordered, 0.1)) == [Action.OK, Action.DEAD_LETTER, Action.OK]
