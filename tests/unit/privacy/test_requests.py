"""The pure rules of data-subject requests."""

import pytest

from cdc_sync.errors import ConfigError
from cdc_sync.privacy.requests import (
    OWN_TABLES,
    assignments,
    check_correction,
    contact_of,
    is_finished,
    outcomes,
    refusal,
    step,
    steps_left,
)

RULES = {"*": "crm", "contacts.csat_last": "helpdesk", "contacts.phone": "callcenter"}


def test_a_request_names_one_contact() -> None:
    assert contact_of("contact:42") == 42
    for wrong in ("42", "contact:", "contact:0", "ticket:4", "contact:4,5"):
        with pytest.raises(ConfigError):
            contact_of(wrong)


def test_a_rerun_continues_with_the_steps_not_finished_in_order() -> None:
    planned = ["marketing", "helpdesk", "callcenter", OWN_TABLES]
    done = {
        "marketing": step("erased"),
        "helpdesk": step("failed", "503"),
        "callcenter": step("not_supported"),
    }
    assert steps_left(planned, done) == ["helpdesk", OWN_TABLES]
    assert not is_finished(planned, done)
    finished = {**done, "helpdesk": step("absent"), OWN_TABLES: step("erased")}
    assert is_finished(planned, finished)
    assert outcomes(finished)["helpdesk"] == "absent"


def test_changes_in_flight_refuse_the_request_and_say_which() -> None:
    assert refusal("contact:7", {"held": 0, "dead_letters": 0}) is None
    reason = refusal("contact:7", {"held": 2, "dead_letters": 0, "conflicts": 1})
    assert reason is not None
    assert reason.startswith("contact:7 has changes in flight: 2 deliveries held")
    assert "1 open conflicts" in reason and "dead letters" not in reason


def test_a_correction_is_field_equals_value_of_crm_owned_personal_data() -> None:
    assert assignments(["email=a=b@example.com", "last_name="]) == {
        "email": "a=b@example.com",
        "last_name": "",
    }
    for wrong in ([], ["email"], ["=x"]):
        with pytest.raises(ConfigError):
            assignments(wrong)
    check_correction(["email", "first_name"], RULES)
    with pytest.raises(ConfigError, match="not correctable"):
        check_correction(["lifecycle_stage"], RULES)
    with pytest.raises(ConfigError, match="owned by callcenter"):
        check_correction(["phone"], RULES)
