"""Reconciliation's pure part: expected records folded from real mapper output, the
comparison with vendor records, the difference rate and what a fix may push."""

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from cdc_sync.config import AppConfig, DestinationConfig
from cdc_sync.events import ChangeEvent, SourcePosition
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.pipeline import build_routes, plan_event
from cdc_sync.repair.reconcile import (
    FieldDifference,
    Record,
    RecordComparison,
    as_crm_state,
    compare,
    difference_rate,
    fix_audit,
    fix_summary,
    fix_targets,
    index_vendor,
    sample_ids,
    summarize,
)
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from cdc_sync.vendors.mailchimp.reconcile import expected_members, vendor_member
from cdc_sync.vendors.zendesk.reconcile import expected_users, vendor_user

CONFIG = AppConfig(
    destinations={
        "marketing": DestinationConfig(
            kind="mailchimp",
            system="marketing",
            base_url="http://m",
            list_id="aud",
            tables=("public.contacts", "public.contact_tags", "public.subscriptions"),
        ),
        "helpdesk": DestinationConfig(
            kind="zendesk", system="helpdesk", base_url="http://h", tables=("public.contacts",)
        ),
    },
    authority={"*": "crm", "contacts.csat_last": "helpdesk", "subscriptions.status": "both"},
)
ROUTES = build_routes(CONFIG)
ADA = {
    "id": 7,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": " Ada@Example.COM ",
    "phone": "030 1234567",
    "country": "Germany",
    "locale": "de_DE",
    "lifecycle_stage": "customer",
    "sync_origin": None,
}
ADA_HASH = subscriber_hash("ada@example.com")
LOOKUPS = Lookups(contacts={7: {"id": 7, "email": ADA["email"], "country": "Germany"}}, tags={1: "vip"})


def fresh(table: str, row: dict[str, Any]) -> ChangeEvent:
    source = SourcePosition(topic=f"crm.{table}", partition=-1, offset=-1, lsn=5, tx_id=None, commit_ts=NOW)
    key = {name: row[name] for name in ("id", "contact_id", "tag_id") if name in row}
    return ChangeEvent(op="r", table=table, key=key, before=None, after=row, source=source, schema_id=0)


NOW = datetime(2026, 11, 23, tzinfo=UTC)


def deliveries(destination: str, *events: ChangeEvent) -> list[Delivery]:
    """What delivery would send `destination` for these rows (the pipeline, no contract)."""
    plans = [plan_event(as_crm_state(e), ROUTES, lambda _: None, CONFIG.authority, LOOKUPS) for e in events]
    return [d for plan in plans for d in plan.deliveries if d.destination == destination]


def member_json(**overrides: Any) -> dict[str, Any]:
    member = {
        "id": ADA_HASH,
        "email_address": "ada@example.com",
        "status": "subscribed",
        "merge_fields": {
            "FNAME": "Ada",
            "LNAME": "Lovelace",
            "PHONE": "+49301234567",
            "COUNTRY": "DE",
            "STAGE": "Customer",
            "ADDRESS": "",  # a merge field cdc-sync does not send
        },
        "tags": [{"id": 1, "name": "vip"}],
    }
    return member | overrides


def test_expected_member_is_what_the_mapper_sends_for_contact_tags_and_subscription() -> None:
    sent = deliveries(
        "marketing",
        fresh("public.contacts", ADA),
        fresh("public.contact_tags", {"contact_id": 7, "tag_id": 1}),
        fresh("public.subscriptions", {"contact_id": 7, "status": "subscribed", "list_id": "aud"}),
    )
    (record,) = expected_members(sent).values()
    assert record.key == ADA_HASH and record.contacts == (7,)
    assert record.fields == {
        "merge_fields.FNAME": "Ada",
        "merge_fields.LNAME": "Lovelace",
        "merge_fields.PHONE": "+49301234567",
        "merge_fields.COUNTRY": "DE",
        "merge_fields.STAGE": "Customer",
        "status": "subscribed",
        "tags": ("vip",),
    }


def test_without_a_subscription_row_status_is_not_compared_only_set_when_new() -> None:
    (record,) = expected_members(deliveries("marketing", fresh("public.contacts", ADA))).values()
    assert "status" not in record.fields
    assert record.fields["tags"] == ()
    vendor = vendor_member(member_json(status="unsubscribed", tags=[]), frozenset())
    assert vendor is not None
    assert compare({record.key: record}, {vendor.key: vendor})[0].result == "match"


def test_an_unformatted_phone_is_expected_with_its_tag() -> None:
    sent = deliveries("marketing", fresh("public.contacts", {**ADA, "phone": "call me maybe"}))
    (record,) = expected_members(sent).values()
    assert record.fields["merge_fields.PHONE"] == "call me maybe"
    assert record.fields["tags"] == ("phone_unformatted",)


def test_contacts_delivery_never_sends_are_not_expected() -> None:
    no_email = fresh("public.contacts", {**ADA, "email": None})
    assert expected_members(deliveries("marketing", no_email)) == {}
    assert expected_users(deliveries("helpdesk", no_email)) == {}


def test_a_row_the_vendor_itself_wrote_is_still_expected_there() -> None:
    echoed = fresh("public.contacts", {**ADA, "sync_origin": "helpdesk"})
    assert "sync_origin" not in (as_crm_state(echoed).after or {"sync_origin": "still there"})
    (user,) = expected_users(deliveries("helpdesk", echoed)).values()
    assert user.key == "7"
    assert user.fields == {"email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49301234567"}


def test_archived_members_are_absent_and_only_known_tags_count() -> None:
    assert vendor_member(member_json(status="archived"), frozenset({"vip"})) is None
    tags = [{"name": "vip"}, {"name": "marketing-own"}, {"name": "phone_unformatted"}]
    member = vendor_member(member_json(tags=tags), frozenset({"vip"}))
    assert member is not None and member.fields["tags"] == ("phone_unformatted", "vip")
    assert member.fields["merge_fields.ADDRESS"] == ""
    assert "ada@example.com" not in member.label and "a***@example.com" in member.label


def test_helpdesk_users_without_external_id_were_not_created_by_cdc_sync() -> None:
    assert vendor_user({"id": 3, "email": "walk@in.example", "name": "Walk In"}, frozenset()) is None
    user = vendor_user({"id": 4, "external_id": "7", "email": "ada@example.com", "name": "A"}, frozenset())
    assert user is not None and (user.key, user.fields["phone"]) == ("7", None)


def record(key: str, contacts: tuple[int, ...] = (), **fields: Any) -> Record:
    return Record(key=key, fields=fields, contacts=contacts, label=f"user {key}")


def test_compare_finds_missing_differing_extra_and_duplicates() -> None:
    expected = {
        "1": record("1", (1,), name="Ada", phone=None),
        "2": record("2", (2,), name="Bob", phone="+4930"),
        "3": record("3", (3,), name="Cy", phone=""),
    }
    vendor, duplicates = index_vendor(
        [
            record("2", name="Bobby", phone="+4930"),
            record("3", name="Cy", phone=None),
            record("9", name="Eve"),
            record("3", name="Cy again"),
            record("9", name="Eve"),  # the same record again (paging shifted): not a duplicate
            None,
        ]
    )
    assert [d.fields["name"] for d in duplicates] == ["Cy again"]
    results = {(c.key, c.result): c for c in compare(expected, vendor, duplicates)}
    assert set(results) == {
        ("1", "missing"),
        ("2", "differing"),
        ("3", "match"),
        ("9", "extra"),
        ("3", "extra"),
    }
    assert results["2", "differing"].fields == (FieldDifference(field="name", crm="Bob", vendor="Bobby"),)
    assert {f.field for f in results["1", "missing"].fields} == {"name", "phone"}
    assert results["3", "extra"].label == "duplicate user 3"


def test_tags_set_by_marketers_or_phone_unformatted_left_behind_are_not_drift() -> None:
    want = record("h", (1,), tags=("vip",))
    assert compare({"h": want}, {"h": record("h", tags=("phone_unformatted", "vip"))})[0].result == "match"
    stale = compare({"h": want}, {"h": record("h", tags=("seed", "vip"))})[0]
    lost = compare({"h": record("h", (1,), tags=("phone_unformatted",))}, {"h": record("h", tags=())})[0]
    assert (stale.result, lost.result) == ("differing", "differing")


def test_difference_rate_is_differences_over_the_union_of_keys() -> None:
    assert difference_rate({"match": 996, "missing": 1, "extra": 2, "differing": 1}) == pytest.approx(0.004)
    assert difference_rate({}) == 0.0
    comparisons = [RecordComparison(key=str(n), result="match") for n in range(3)]
    report = summarize("m", "mailchimp", [*comparisons, RecordComparison(key="x", result="extra")], 2, 50)
    assert (report.compared, report.counts["extra"], report.not_expected, report.sample) == (4, 1, 2, 50)
    assert report.difference_rate == 0.25 and [c.key for c in report.differences] == ["x"]


def differing(key: str, contacts: tuple[int, ...], **fields: tuple[Any, Any]) -> RecordComparison:
    diffs = tuple(FieldDifference(field=n, crm=c, vendor=v) for n, (c, v) in fields.items())
    return RecordComparison(key=key, result="differing", contacts=contacts, fields=diffs)


def test_fix_targets_skip_extras_and_keep_vendor_opt_outs() -> None:
    tagged = differing("a", (1,), tags=(("vip",), ("seed", "phone_unformatted")))
    opted_out_only = differing("b", (2,), status=("subscribed", "unsubscribed"))
    opted_out_renamed = differing(
        "c", (3,), status=("subscribed", "cleaned"), **{"merge_fields.FNAME": ("A", "B")}
    )
    extra = RecordComparison(key="x", result="extra")
    targets = fix_targets([tagged, opted_out_only, opted_out_renamed, extra])
    assert [(t.comparison.key, t.stale_tags, t.consent_kept) for t in targets] == [
        ("a", ("seed",), False),
        ("c", (), True),
    ]
    assert fix_audit(opted_out_renamed, consent_kept=True) == (
        {"merge_fields.FNAME": "B"},
        {"merge_fields.FNAME": "A"},
    )


def test_fix_audit_of_a_missing_record_has_no_before() -> None:
    missing = RecordComparison(
        key="k",
        result="missing",
        contacts=(4,),
        fields=(FieldDifference(field="name", crm="Di", vendor=None),),
    )
    assert fix_audit(missing) == (None, {"name": "Di"})


def test_fix_summary_counts_rechecked_records_and_keeps_extras() -> None:
    fixed, failed = differing("a", (1,), name=("A", "B")), differing("b", (2,), name=("C", "D"))
    kept = differing("c", (3,), status=("subscribed", "unsubscribed"))
    extra = RecordComparison(key="x", result="extra")
    report = summarize(
        "m", "mailchimp", [fixed, failed, kept, extra, RecordComparison(key="ok", result="match")]
    )
    summary = fix_summary(
        report,
        fix_targets(report.differences),
        {"a": RecordComparison(key="a", result="match")},
        failed={"contact:2"},
    )
    assert (summary.records, summary.fixed, summary.failed, summary.consent_kept) == (2, 1, 1, 1)
    assert (summary.remaining, summary.difference_rate_after) == (3, 0.6)


def test_samples_are_uniform_subsets_in_id_order() -> None:
    ids = list(range(1, 101))
    sample = sample_ids(ids, 10, random.Random(4))
    assert len(sample) == 10 and sample == sorted(sample) and set(sample) <= set(ids)
    assert sample == sample_ids(ids, 10, random.Random(4))
    assert sample_ids(ids, None, random.Random()) == ids and sample_ids(ids, 500, random.Random()) == ids
