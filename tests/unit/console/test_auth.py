"""The console's checks without a server: passwords, roles, CSRF tokens, masking on pages."""

import pytest

from cdc_sync.console.auth import NEEDS, ROLES, Refused, allows, check, check_csrf, proxy_role
from cdc_sync.console.passwords import hash_password, verify_password
from cdc_sync.console.views import shown
from cdc_sync.store.operators import Session


def test_a_password_verifies_against_its_own_hash_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("correct horse battery") != stored  # salted
    assert not verify_password("anything", "md5$abc")  # another scheme, or garbage, never passes
    assert not verify_password("anything", "not a hash")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"read"}),
        ("operator", {"read", "retry", "discard", "pause", "resume", "resolve", "replay"}),
        ("admin", set(NEEDS)),
        ("intruder", set()),  # a role the table does not know may do nothing
    ],
)
def test_each_role_may_do_what_the_roles_before_it_may(role: str, allowed: set[str]) -> None:
    assert {action for action in NEEDS if allows(role, action)} == allowed


def test_a_refused_action_and_a_wrong_csrf_token_are_403() -> None:
    viewer = Session("vera", "viewer", "token-of-the-session")
    with pytest.raises(Refused) as refused:
        check(viewer, "retry")
    assert refused.value.status == 403 and "needs operator" in str(refused.value)
    check_csrf(viewer, "token-of-the-session")
    for wrong in (None, "", "token-of-another-session"):
        with pytest.raises(Refused):
            check_csrf(viewer, wrong)
    assert ROLES == ("viewer", "operator", "admin")


def test_pages_mask_personal_data_unless_asked() -> None:
    payload = {"email_address": "ann.lee@example.com", "merge_fields": {"PHONE": "+49 30 1234567"}}
    masked = shown(payload, pii=False)
    assert "ann.lee@example.com" not in masked and "1234567" not in masked
    assert "ann.lee@example.com" in shown(payload, pii=True)


def test_the_proxys_groups_give_the_highest_role_they_map_to() -> None:
    roles = {"cdc-viewers": "viewer", "cdc-admins": "admin", "cdc-operators": "operator"}
    assert proxy_role("cdc-viewers,cdc-operators", roles) == "operator"  # type: ignore[arg-type]
    assert proxy_role("cdc-admins cdc-viewers", roles) == "admin"  # type: ignore[arg-type]
    assert proxy_role("finance, marketing", roles) is None  # type: ignore[arg-type]
    assert proxy_role(None, roles) is None  # type: ignore[arg-type]
