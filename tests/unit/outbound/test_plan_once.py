"""Planning normalizes each value of a change once, for all its destinations, with the same output."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_sync.errors import RejectedEvent
from cdc_sync.events import Op
from cdc_sync.mapping import normalize
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from tests.unit.mapping.test_normalized import CONTACTS, calls
from tests.unit.outbound.test_pipeline import CONTACT, by_operation, event, plan

NORMALIZERS = {
    "email": normalize.check_email,
    "phone": normalize.normalize_phone,
    "country": normalize.normalize_country,
    "locale": normalize.normalize_locale,
    "timezone": normalize.normalize_timezone,
}


def normalizer_calls() -> dict[str, int]:
    return {name: calls(normalizer) for name, normalizer in NORMALIZERS.items()}


def calls_while_planning(*changes: Any) -> dict[str, int]:
    before = normalizer_calls()
    for change in changes:
        plan(change)
    return {name: count - before[name] for name, count in normalizer_calls().items()}


def test_mailchimp_and_zendesk_share_one_normalization_of_each_value() -> None:
    assert calls_while_planning(event("public.contacts", "c", CONTACT)) == dict.fromkeys(NORMALIZERS, 1)


def test_an_address_not_seen_before_is_checked_once_per_change() -> None:
    normalize.check_email.cache_clear()
    plan(event("public.contacts", "c", {**CONTACT, "email": "new-contact@example.com"}))
    assert normalize.check_email.cache_info().misses == 1


def test_an_unchanged_address_is_not_checked_again_yet_still_sent_normalized() -> None:
    plan(event("public.contacts", "c", CONTACT))
    normalize.check_email.cache_clear()
    plan(event("public.contacts", "c", CONTACT))
    update = event("public.contacts", "u", {**CONTACT, "locale": "en_US"}, before=CONTACT)
    checks_before = normalize.check_email.cache_info().misses
    result = by_operation(plan(update))
    assert normalize.check_email.cache_info().misses == checks_before
    member = result["marketing/member.upsert"].request
    assert member.path.endswith(subscriber_hash("ada@example.com"))
    assert member.body is not None and member.body["email_address"] == "ada@example.com"
    user = result["helpdesk/user.create_or_update"].request.body
    assert user is not None and user["user"]["email"] == "ada@example.com"


def test_an_unchanged_invalid_address_is_still_dead_lettered_every_time() -> None:
    bad = {**CONTACT, "email": "not-an-email"}
    for _ in range(2):  # the second time from memory
        result = plan(event("public.contacts", "u", {**bad, "locale": "en_US"}, before=bad))
        assert {r.destination for r in result.rejections} == {"marketing", "helpdesk"}
        assert all("invalid email 'not-an-email'" in r.reason for r in result.rejections)
        assert [d.destination for d in result.deliveries] == ["hooks"]


def expected_email(raw: str | None) -> str | None:
    try:
        return normalize.check_email.__wrapped__(raw).accepted()
    except RejectedEvent:
        return None


@settings(max_examples=200)
@given(CONTACTS, st.sampled_from(["c", "u"]))
def test_requests_carry_exactly_what_the_normalizers_compute(fields: dict[str, Any], op: Op) -> None:
    row = {**CONTACT, **fields}
    result = plan(event("public.contacts", op, row, before=row if op == "u" else None))
    email = expected_email(row["email"])
    if email is None:
        assert {r.destination for r in result.rejections} == {"marketing", "helpdesk"}
        return
    region = normalize.normalize_country.__wrapped__(row["country"])
    phone = normalize.normalize_phone.__wrapped__(row["phone"], region)
    locale = normalize.normalize_locale.__wrapped__(row["locale"])
    mapped = by_operation(result)
    member = mapped["marketing/member.upsert"].request.body
    assert member is not None and member["email_address"] == email
    assert member["merge_fields"]["PHONE"] == (phone.value or "")
    assert member["merge_fields"]["COUNTRY"] == (region or "")
    assert member.get("language") == (locale.split("-")[0] if locale else None)
    user = mapped["helpdesk/user.create_or_update"].request.body
    assert user is not None
    assert (user["user"]["email"], user["user"]["phone"]) == (email, phone.value)
    assert user["user"]["user_fields"]["locale"] == locale
    assert user["user"]["user_fields"]["timezone"] == normalize.normalize_timezone.__wrapped__(
        row["timezone"]
    )
