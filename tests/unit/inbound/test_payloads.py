"""Vendor bodies → InboundEvent: the shapes each source sends, and readable refusals for everything else."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cdc_sync.errors import ConfigError, RejectedEvent
from cdc_sync.inbound.payloads import BadPayload, PayloadProblem
from cdc_sync.inbound.sources import check_media_type, parse
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.storable import check_storable

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def zendesk_hook(kind: str = "ticket.status_changed", **detail: Any) -> dict[str, Any]:
    ticket = {
        "id": "A100",
        "status": "SOLVED",
        "priority": "HIGH",
        "via": {"channel": "email"},
        "requester_id": "9001",
        "assignee_id": "0",  # Zendesk's "nobody"
        "group_id": "360001",
        "organization_id": None,
        "type": "incident",
        "tags": ["vip", "resolution_fixed"],
        "created_at": "2026-11-23T09:00:00Z",
        "updated_at": "2026-11-23T10:00:00Z",
        "subject": "Printer on fire",
        "brand_id": 7,  # vendor fields we do not use are ignored
        **detail,
    }
    return {
        "id": "3f1c",
        "type": f"zen:event-type:{kind}",
        "time": "2026-11-23T10:00:00Z",
        "subject": f"zen:ticket:{ticket['id']}",
        "detail": ticket,
        "event": {"previous": "OPEN", "current": "SOLVED"},
    }


def json_event(source: str, document: object, content_type: str = JSON) -> InboundEvent:
    return parse(source, content_type, orjson.dumps(document))


def test_a_zendesk_status_change_keeps_vendor_values_raw() -> None:
    assert json_event("helpdesk", zendesk_hook()) == InboundEvent(
        source="helpdesk",
        event_id="3f1c",
        kind="ticket.status_changed",
        entity="ticket:A100",
        occurred_at=AT,
        data={
            "ticket_id": "A100",
            "status": "SOLVED",
            "previous_status": "OPEN",
            "priority": "HIGH",
            "previous_priority": None,
            "channel": "email",
            "subject": "Printer on fire",
            "category": "incident",
            "tags": ["vip", "resolution_fixed"],
            "requester_ref": "9001",
            "assignee_ref": None,
            "queue": "360001",
            "account_ref": None,
            "opened_at": "2026-11-23T09:00:00+00:00",
            "helpdesk_updated_at": "2026-11-23T10:00:00+00:00",
            "sla_due_at": None,
            "requester_external_id": None,
            "satisfaction_score": None,
            "comment": None,
        },
    )


def test_a_comment_keeps_its_author_and_visibility() -> None:
    comment = {
        "id": 77,
        "body": "<p>Hi</p>",
        "is_public": True,
        "author": {"id": 5, "is_staff": True, "name": "Ann"},
    }
    hook = {**zendesk_hook("ticket.comment_added"), "event": {"comment": comment}}
    data = json_event("helpdesk", hook).data
    assert data["comment"] == {
        "id": "77",
        "body": "<p>Hi</p>",
        "public": True,
        "author_ref": "5",
        "author_name": "Ann",
        "by_agent": True,
    }


SATISFACTION = {
    "id": "csat-100-good-2026-11-23T10:00Z",
    "ticket_id": "100",
    "requester_external_id": "42",
    "rating": "Good",
    "comment": "",
    "updated_at": "2026-11-23T10:00Z",  # {{ticket.updated_at_with_timestamp}}: minutes, no seconds
}


@pytest.mark.parametrize(("rating", "score"), [("Good", 5), ("bad", 1), ("4", 4), (3, 3)])
def test_the_satisfaction_trigger_body_becomes_a_rating(rating: object, score: int) -> None:
    rated = json_event("helpdesk-csat", {**SATISFACTION, "rating": rating})
    assert (rated.kind, rated.entity, rated.occurred_at) == ("ticket.satisfaction_rated", "ticket:100", AT)
    assert rated.data == {
        "ticket_id": "100",
        "satisfaction_score": score,
        "requester_external_id": "42",
        "satisfaction_comment": None,
    }


@pytest.mark.parametrize("rating", ["Offered", "6", ""])
def test_a_satisfaction_trigger_without_a_rating_is_refused(rating: str) -> None:
    with pytest.raises(BadPayload, match="rating") as refused:
        json_event("helpdesk-csat", {**SATISFACTION, "rating": rating})
    assert refused.value.problem == "model"


def test_priority_and_satisfaction_events() -> None:
    priority = json_event("helpdesk", zendesk_hook("ticket.priority_changed"))
    rated = json_event("helpdesk", zendesk_hook("ticket.satisfaction_rated", id=100, satisfaction_score=2))
    assert (priority.kind, priority.data["previous_priority"], priority.data["previous_status"]) == (
        "ticket.priority_changed",
        "OPEN",
        None,
    )
    assert (rated.kind, rated.entity, rated.data["satisfaction_score"]) == (
        "ticket.satisfaction_rated",
        "ticket:100",
        2,
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "zen:event-type:ticket.brand_changed"}, "type"),
        ({"detail": {"status": "open"}}, "detail.id"),
        ({"time": "2026-11-23T10:00:00"}, "time"),  # no offset: cannot be placed in time
        ({"time": "9999-12-31T23:59:59-14:00"}, "out of range"),
    ],
)
def test_zendesk_model_failures_are_named(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadPayload, match=reason) as refused:
        json_event("helpdesk", {**zendesk_hook(), **change})
    assert refused.value.problem == "model"


def test_a_satisfaction_score_outside_zero_to_five_is_refused() -> None:
    with pytest.raises(BadPayload, match="satisfaction_score"):
        json_event("helpdesk", zendesk_hook("ticket.satisfaction_rated", satisfaction_score=6))


def erp_collection(**change: Any) -> dict[str, Any]:
    return {
        "type": "collection.recorded",
        "event_id": "erp-1",
        "order_no": "SO-7",
        "contract_no": "C-3",
        "amount": "1200.50",
        "currency": "EUR",
        "collected_ratio": 0.5,
        "occurred_at": "2026-11-23T11:00:00+01:00",
        **change,
    }


def test_an_erp_collection_keeps_amounts_exact_as_strings() -> None:
    event = json_event("erp", erp_collection())
    assert (event.kind, event.entity, event.occurred_at) == ("collection.recorded", "order:SO-7", AT)
    assert event.data == {
        "order_no": "SO-7",
        "contract_no": "C-3",
        "amount": "1200.50",
        "currency": "EUR",
        "collected_ratio": "0.5",
    }
    assert json_event("erp", erp_collection(amount=1e5)).data["amount"] == "100000.0"
    assert json_event("erp", erp_collection(amount=0.1)).data["amount"] == "0.1"


def test_an_erp_refund() -> None:
    refund = {k: v for k, v in erp_collection(type="refund.recorded", reason="damaged").items()}
    del refund["collected_ratio"]
    event = json_event("erp", refund)
    assert (event.kind, event.data["reason"], event.data["amount"]) == (
        "refund.recorded",
        "damaged",
        "1200.50",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": "12.345"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1" * 15}, "amount"),
        ({"collected_ratio": 1.5}, "collected_ratio"),
        ({"currency": "euro"}, "currency"),
        ({"order_no": " "}, "order_no"),
        ({"type": "invoice.paid"}, "type"),
    ],
)
def test_erp_model_failures_are_named(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadPayload, match=reason):
        json_event("erp", erp_collection(**change))


def test_an_email_click_is_ordered_by_the_lower_cased_address() -> None:
    hook = {
        "type": "email.clicked",
        "event_id": "e-9",
        "email": "Ann@Example.com",
        "campaign_id": 31,
        "url": "https://example.com/offer",
        "occurred_at": "2026-11-23T10:00:00Z",
    }
    event = json_event("marketing", hook)
    assert (event.kind, event.entity, event.event_id) == ("email.clicked", "email:ann@example.com", "e-9")
    assert event.data == {"email": "Ann@Example.com", "campaign_id": "31", "url": "https://example.com/offer"}
    opened = json_event("marketing", {**hook, "type": "email.opened", "url": None})
    assert (opened.kind, opened.data["url"]) == ("email.opened", None)
    with pytest.raises(BadPayload, match="email"):
        json_event("marketing", {**hook, "email": "not-an-address"})


def list_form(**fields: str) -> dict[str, str]:
    return {
        "type": "unsubscribe",
        "fired_at": "2026-11-23 10:00:00",
        "data[email]": "Ann@Example.com",
        "data[list_id]": "a6b5da1054",
        "data[reason]": "manual",
        "data[merges][FNAME]": "Ann",
        "data[merges][INTERESTS]": "",
        **fields,
    }


def list_event(form: dict[str, str]) -> InboundEvent:
    return parse("marketing-lists", f"{FORM}; charset=UTF-8", urlencode(form).encode())


def test_a_mailchimp_unsubscribe() -> None:
    event = list_event(list_form())
    assert (event.kind, event.entity, event.occurred_at) == ("list.unsubscribe", "email:ann@example.com", AT)
    assert event.data == {
        "email": "ann@example.com",
        "new_email": None,
        "list_id": "a6b5da1054",
        "reason": "manual",
        "merges": {"FNAME": "Ann", "INTERESTS": ""},
    }
    assert len(event.event_id) == 32 and int(event.event_id, 16) >= 0


def test_a_mailchimp_event_id_is_stable_across_redeliveries_and_distinct_otherwise() -> None:
    first = list_event(list_form()).event_id
    assert list_event(list_form(**{"data[merges][FNAME]": "Anne"})).event_id == first
    others = [
        list_form(type="cleaned"),
        list_form(fired_at="2026-11-23 10:00:01"),
        list_form(**{"data[email]": "bob@example.com"}),
        list_form(**{"data[list_id]": "other"}),
    ]
    assert first not in {list_event(form).event_id for form in others}


def test_a_mailchimp_email_change_is_ordered_by_the_old_address() -> None:
    form = {
        "type": "upemail",
        "fired_at": "2026-11-23 10:00:00",
        "data[list_id]": "a6b5da1054",
        "data[new_id]": "51aa6b",
        "data[new_email]": "ann.new@example.com",
        "data[old_email]": "Ann@Example.com",
    }
    event = list_event(form)
    assert (event.kind, event.entity, event.data["new_email"]) == (
        "list.upemail",
        "email:ann@example.com",
        "ann.new@example.com",
    )


@pytest.mark.parametrize(
    ("body", "problem", "reason"),
    [
        (b"type=subscribe&data[email]=a@b.c&data[email][x]=1", "syntax", "both a value and a group"),
        (b"type=subscribe&data=1&data[email]=a@b.c", "syntax", "both a value and a group"),
        (b"type=subscribe&%ff=1", "syntax", "not UTF-8 url-encoded"),
        (b"\xff\xfe", "syntax", "not UTF-8"),
        (b"just text", "syntax", "url-encoded"),
        (b"type=subscribe&fired_at=2026-11-23+10:00:00&data[list_id]=L", "model", "data.email"),
        (b"type=resubscribe&fired_at=2026-11-23+10:00:00&data[email]=a@b.c&data[list_id]=L", "model", "type"),
    ],
)
def test_form_bodies_that_cannot_be_list_events(body: bytes, problem: PayloadProblem, reason: str) -> None:
    with pytest.raises(BadPayload, match=reason) as refused:
        parse("marketing-lists", FORM, body)
    assert refused.value.problem == problem


@pytest.mark.parametrize(
    ("body", "problem", "reason"),
    [
        (b'{"type": ', "syntax", "not JSON"),
        (b"\xff", "syntax", "not JSON"),
        (b"[" * 5000, "syntax", "not JSON"),
        (b"1" * 400, "syntax", "not JSON"),  # beyond a double
        (b"[1, 2]", "model", "body"),
        (b"{}", "model", "type"),
    ],
)
def test_json_bodies_that_cannot_be_events(body: bytes, problem: PayloadProblem, reason: str) -> None:
    with pytest.raises(BadPayload, match=reason) as refused:
        parse("erp", JSON, body)
    assert refused.value.problem == problem


@pytest.mark.parametrize(
    ("source", "content_type"),
    [("erp", "text/plain"), ("erp", ""), ("erp", FORM), ("marketing-lists", JSON), ("helpdesk", "json")],
)
def test_each_source_takes_one_media_type(source: str, content_type: str) -> None:
    with pytest.raises(BadPayload, match="takes") as refused:
        check_media_type(source, content_type)
    assert refused.value.problem == "media_type"


def test_media_type_parameters_and_case_do_not_matter() -> None:
    check_media_type("erp", "Application/JSON; charset=utf-8")
    check_media_type("marketing-lists", f"{FORM};charset=UTF-8")


NUL_BODIES = [
    ("helpdesk", JSON, orjson.dumps(zendesk_hook(subject="Printer\x00on fire")), "data: .*subject"),
    ("helpdesk", JSON, json.dumps(zendesk_hook(id="A\ud800")).encode(), "not JSON"),  # orjson refuses
    ("erp", JSON, orjson.dumps(erp_collection(event_id="erp-\x00")), "event_id"),
    (
        "marketing",
        JSON,
        b'{"type": "email.clicked", "event_id": "e", "email": "a@b.c", '
        b'"campaign_id": "c\\u0000", "occurred_at": "2026-11-23T10:00:00Z"}',
        "campaign_id",
    ),
    ("marketing-lists", FORM, urlencode(list_form(**{"data[reason]": "a\x00b"})).encode(), "reason"),
    ("marketing-lists", FORM, urlencode(list_form(**{"data[merges][F\x00]": "x"})).encode(), "merges"),
]


@pytest.mark.parametrize(("source", "content_type", "body", "reason"), NUL_BODIES)
def test_text_postgresql_cannot_store_is_refused_at_the_door(
    source: str, content_type: str, body: bytes, reason: str
) -> None:
    with pytest.raises(BadPayload, match=reason) as refused:
        parse(source, content_type, body)
    assert refused.value.problem in ("model", "syntax")


def test_an_inbound_event_holds_only_storable_text() -> None:
    fields = {"source": "erp", "event_id": "e", "kind": "k", "entity": "x", "occurred_at": AT, "data": {}}
    for name, value in [("kind", "k\x00"), ("entity", "\udc80"), ("data", {"a": ["ok", {"b\x00": 1}]})]:
        with pytest.raises(ValidationError, match=name):
            InboundEvent.model_validate({**fields, name: value})


def test_an_unknown_source_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="no payload format"):
        parse("billing", JSON, b"{}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Values that sit on the edges of what the models take.
edgy = st.sampled_from(
    ["", " ", "1e400", "-0", "NaN", 1e308, 2**70, "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
TEMPLATES: dict[str, dict[str, Any]] = {
    "helpdesk": zendesk_hook(),
    "erp": erp_collection(),
    "marketing": {
        "type": "email.clicked",
        "event_id": "e-9",
        "email": "ann@example.com",
        "campaign_id": "31",
        "occurred_at": "2026-11-23T10:00:00Z",
    },
}


@st.composite
def vendor_documents(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """A valid document with a few fields replaced by arbitrary values or removed."""
    keys = st.sampled_from(sorted(template))
    no_change: dict[str, Any] = {}
    document = {
        **template,
        **draw(st.just(no_change) | st.dictionaries(keys, json_values | edgy, max_size=2)),
    }
    for key in draw(st.just(set[str]()) | st.sets(keys, max_size=2)):
        document.pop(key, None)
    return document


def dumps(document: object) -> bytes:
    # The stdlib also writes what orjson refuses to read (NaN, integers past 64 bits).
    return json.dumps(document).encode()


@settings(max_examples=400)
@given(st.data())
def test_any_json_body_is_an_event_or_a_bad_payload(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(sorted(TEMPLATES)))
    shaped = vendor_documents(TEMPLATES[source]).map(dumps)
    body = data.draw(st.one_of(shaped, shaped, shaped, st.binary(max_size=300), json_values.map(dumps)))
    try:
        parsed = parse(source, JSON, body)
    except RejectedEvent as refused:
        assert isinstance(refused, BadPayload) and refused.problem in ("syntax", "model")
        assert str(refused)
        event(f"refused: {refused.problem}")
    else:
        assert parsed.source == source and parsed.occurred_at.utcoffset() is not None
        assert check_storable(parsed.model_dump(mode="json"))
        event("parsed")


form_bodies = st.binary(max_size=200) | vendor_documents(list_form()).map(
    lambda form: urlencode(form).encode()
)


@settings(max_examples=300)
@given(form_bodies)
def test_any_form_body_is_an_event_or_a_bad_payload(body: bytes) -> None:
    try:
        parsed = parse("marketing-lists", FORM, body)
    except BadPayload as refused:
        assert refused.problem in ("syntax", "model")
        event(f"refused: {refused.problem}")
    else:
        assert parsed.kind.startswith("list.") and parsed.entity.startswith("email:")
        assert check_storable(parsed.model_dump(mode="json"))
        event("parsed")
