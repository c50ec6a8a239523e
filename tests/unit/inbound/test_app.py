"""The webhook front door over ASGI: what each request gets back, what reaches the inbox, and that no
request whatsoever gets a 500 or reaches the inbox without a valid signature."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from starlette.types import Message

from cdc_sync.errors import ConfigError, StackUnavailable
from cdc_sync.inbound.app import Admission, create_app
from cdc_sync.inbound.sources import DEFAULT_SOURCES, SourceConfig
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.signing import signed_headers
from cdc_sync.vendors.mailchimp.webhooks import our_lists
from cdc_sync.vendors.zendesk.signing import zendesk_signed_headers

pytestmark = pytest.mark.anyio

NOW = 1_795_428_000.0  # 2026-11-23T10:00:00Z
ENV = {
    "CDC_SYNC_HELPDESK_WEBHOOK_SECRET": "helpdesk-current",
    "CDC_SYNC_HELPDESK_WEBHOOK_SECRET_NEXT": "helpdesk-next",
    "CDC_SYNC_ERP_WEBHOOK_SECRET": "whsec_ZXJwLWN1cnJlbnQ=",
    "CDC_SYNC_ERP_WEBHOOK_SECRET_NEXT": "whsec_ZXJwLW5leHQ=",
    "CDC_SYNC_MARKETING_WEBHOOK_SECRET": "whsec_bWFya2V0aW5n",
    "CDC_SYNC_MARKETING_LIST_SECRET": "list-current",
    "CDC_SYNC_CALLCENTER_WEBHOOK_SECRET": "whsec_Y2FsbGNlbnRlcg==",
}
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
MAX_BODY = DEFAULT_SOURCES["erp"].max_body_bytes
# Never 500; 503 only when the inbox is down, which these requests never meet.
REFUSED_OR_ACCEPTED = {200, 400, 401, 404, 405, 413, 415, 422}
Alert = Callable[[str, str, str], Awaitable[None]]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class MemoryInbox:
    events: dict[tuple[str, str], InboundEvent] = field(default_factory=dict)
    failure: Exception | None = None

    async def put(self, event: InboundEvent) -> bool:
        if self.failure is not None:
            raise self.failure
        key = (event.source, event.event_id)
        is_new = key not in self.events
        self.events.setdefault(key, event)
        return is_new


@dataclass
class Door:
    """The app with its collaborators in reach: the inbox, the alerts raised, the readiness answer."""

    inbox: MemoryInbox = field(default_factory=MemoryInbox)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    alert_kinds: list[str] = field(default_factory=list)
    ready: bool | Exception = True
    alert: Alert | None = None
    admissions: dict[str, Admission] = field(default_factory=dict)
    openapi: bool = True
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        with pytest.MonkeyPatch.context() as env:
            for name, value in ENV.items():
                env.setenv(name, value)
            self.app = create_app(
                DEFAULT_SOURCES,
                self.inbox,
                on_rejected=self.alert or self.record,
                ready=self.is_ready,
                clock=now,
                admissions=self.admissions,
                openapi=self.openapi,
            )

    async def record(self, source: str, kind: str, reason: str) -> None:
        self.rejected.append((source, reason))
        self.alert_kinds.append(kind)

    async def is_ready(self) -> bool:
        if isinstance(self.ready, Exception):
            raise self.ready
        return self.ready

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://crm.test")


def now() -> float:
    return NOW


@pytest.fixture
def door() -> Door:
    return Door()


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def erp_body(**change: str) -> bytes:
    document = {
        "type": "collection.recorded",
        "event_id": "erp-1",
        "order_no": "SO-7",
        "contract_no": "C-3",
        "amount": "1200.50",
        "currency": "EUR",
        "collected_ratio": "0.5",
        "occurred_at": iso(NOW),
        **change,
    }
    return json.dumps(document).encode()


def helpdesk_body() -> bytes:
    document = {
        "id": "evt-1",
        "type": "zen:event-type:ticket.status_changed",
        "time": iso(NOW),
        "subject": "zen:ticket:A100",
        "detail": {"id": "A100", "status": "SOLVED", "via": {"channel": "email"}},
        "event": {"previous": "OPEN", "current": "SOLVED"},
    }
    return json.dumps(document).encode()


LIST_FORM = urlencode(
    {"type": "subscribe", "fired_at": "2026-11-23 10:00:00", "data[email]": "a@b.c", "data[list_id]": "L1"}
).encode()
Signer = Callable[[str, bytes, float], dict[str, str]]
# How each source's vendor signs a body sent at a given time, with the secret in a given variable.
SIGNERS: dict[str, tuple[str, Signer]] = {
    "erp": (
        "CDC_SYNC_ERP_WEBHOOK_SECRET",
        lambda env, body, at: signed_headers(ENV[env], "m1", int(at), body),
    ),
    "marketing": (
        "CDC_SYNC_MARKETING_WEBHOOK_SECRET",
        lambda env, body, at: signed_headers(ENV[env], "m1", int(at), body),
    ),
    "helpdesk": (
        "CDC_SYNC_HELPDESK_WEBHOOK_SECRET",
        lambda env, body, at: zendesk_signed_headers(ENV[env], iso(at), body),
    ),
    "marketing-lists": ("CDC_SYNC_MARKETING_LIST_SECRET", lambda env, body, at: {}),
    "callcenter": (
        "CDC_SYNC_CALLCENTER_WEBHOOK_SECRET",
        lambda env, body, at: signed_headers(ENV[env], "m1", int(at), body),
    ),
}


async def post_signed(
    client: httpx.AsyncClient,
    source: str,
    body: bytes,
    *,
    content_type: str = JSON,
    sent_at: float = NOW,
    env: str | None = None,
) -> httpx.Response:
    default_env, signer = SIGNERS[source]
    headers = {"content-type": content_type, **signer(env or default_env, body, sent_at)}
    params = {"secret": ENV[default_env]} if source == "marketing-lists" else {}
    return await client.post(f"/webhooks/{source}", content=body, headers=headers, params=params)


async def test_a_signed_event_is_accepted_then_recognized_as_a_duplicate(door: Door) -> None:
    async with door.client() as client:
        first = await post_signed(client, "erp", erp_body())
        again = await post_signed(client, "erp", erp_body())
    assert (first.status_code, first.json()) == (200, {"status": "accepted", "event_id": "erp-1"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate", "event_id": "erp-1"})
    stored = door.inbox.events[("erp", "erp-1")]
    assert (stored.kind, stored.entity, stored.data["amount"]) == (
        "collection.recorded",
        "order:SO-7",
        "1200.50",
    )


@pytest.mark.parametrize(
    ("source", "body", "env"),
    [
        ("erp", erp_body(), "CDC_SYNC_ERP_WEBHOOK_SECRET"),
        ("erp", erp_body(), "CDC_SYNC_ERP_WEBHOOK_SECRET_NEXT"),
        ("helpdesk", helpdesk_body(), "CDC_SYNC_HELPDESK_WEBHOOK_SECRET"),
        ("helpdesk", helpdesk_body(), "CDC_SYNC_HELPDESK_WEBHOOK_SECRET_NEXT"),
    ],
    ids=["erp-current", "erp-next", "helpdesk-current", "helpdesk-next"],
)
async def test_during_a_rotation_both_secrets_are_accepted(
    door: Door, source: str, body: bytes, env: str
) -> None:
    async with door.client() as client:
        response = await post_signed(client, source, body, env=env)
    assert (response.status_code, response.json()["status"]) == (200, "accepted")
    assert [key[0] for key in door.inbox.events] == [source]


async def test_a_mailchimp_list_event_is_accepted_with_the_url_secret(door: Door) -> None:
    async with door.client() as client:
        response = await post_signed(
            client, "marketing-lists", LIST_FORM, content_type=f"{FORM}; charset=utf-8"
        )
        unsigned = await client.post(
            "/webhooks/marketing-lists", content=LIST_FORM, headers={"content-type": FORM}
        )
    assert (response.status_code, response.json()["status"]) == (200, "accepted")
    assert [event.kind for event in door.inbox.events.values()] == ["list.subscribe"]
    assert (unsigned.status_code, unsigned.json()["detail"]) == (401, "missing secret query parameter")


async def test_a_list_event_for_an_audience_we_do_not_sync_is_403_alerted_and_not_stored() -> None:
    marketing = DestinationConfig(
        kind="mailchimp",
        system="marketing",
        base_url="http://vendor",
        list_id="L1",
        credential_env="KEY",
        tables=("public.contacts",),
    )
    ours = our_lists({"marketing": marketing})
    door = Door(admissions={"marketing-lists": ours})
    other = LIST_FORM.replace(b"L1", b"L2")
    async with door.client() as client:
        refused = await post_signed(client, "marketing-lists", other, content_type=FORM)
        taken = await post_signed(client, "marketing-lists", LIST_FORM, content_type=FORM)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "list 'L2' is not an audience cdc-sync syncs",
    )
    assert taken.status_code == 200 and [e.data["list_id"] for e in door.inbox.events.values()] == ["L1"]
    assert door.alert_kinds == ["webhook_forbidden"]


@pytest.mark.parametrize(("source", "sent_at"), [("erp", NOW - 901), ("helpdesk", NOW + 901)])
async def test_a_stale_signature_is_refused(door: Door, source: str, sent_at: float) -> None:
    body = erp_body() if source == "erp" else helpdesk_body()
    async with door.client() as client:
        response = await post_signed(client, source, body, sent_at=sent_at)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid signature",
        "detail": "timestamp 901 s off (tolerance 300 s)",
    }
    assert door.inbox.events == {}


async def test_a_forged_event_is_refused_counted_and_reported(door: Door) -> None:
    body = erp_body()
    forged = signed_headers("whsec_Zm9yZ2Vk", "m1", int(NOW), body)
    async with door.client() as client:
        response = await client.post("/webhooks/erp", content=body, headers={"content-type": JSON, **forged})
        on_the_door = await client.get("/metrics")
    metrics = generate_latest().decode()
    assert on_the_door.status_code == 404  # /metrics is on the admin listener, not the webhook port
    assert (response.status_code, response.json()["detail"]) == (401, "no signature matches")
    assert door.rejected == [("erp", "no signature matches")]
    assert door.inbox.events == {}
    assert 'cdc_sync_webhook_signature_failures_total{source="erp"}' in metrics
    assert 'cdc_sync_webhooks_total{outcome="invalid_signature",source="erp"}' in metrics


async def test_a_failing_alert_sink_does_not_change_the_401() -> None:
    async def broken(source: str, kind: str, reason: str) -> None:
        raise RuntimeError("notifier down")

    async with Door(alert=broken).client() as client:
        response = await client.post("/webhooks/erp", content=b"{}", headers={"content-type": JSON})
    assert (response.status_code, response.json()["detail"]) == (401, "missing webhook-id header")


async def chunks(count: int, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        sent.append(size)
        yield b"x" * size


async def test_oversized_bodies_are_refused_without_reading_them_whole(door: Door) -> None:
    sent: list[int] = []
    async with door.client() as client:
        declared = await client.post(
            "/webhooks/erp",
            content=b"{}",
            headers={"content-type": JSON, "content-length": str(MAX_BODY + 1)},
        )
        streamed = await client.post(
            "/webhooks/erp", content=chunks(100, 10_000, sent), headers={"content-type": JSON}
        )
        exact = await post_signed(client, "erp", b" " * (MAX_BODY + 1))
    assert (declared.status_code, declared.json()["error"]) == (413, "payload too large")
    assert streamed.status_code == 413
    assert sum(sent) <= MAX_BODY + 10_000  # stopped one chunk past the cap, not at the end
    assert exact.status_code == 413
    assert door.inbox.events == {} and door.rejected == []


@pytest.mark.parametrize(
    ("source", "content_type"),
    [("erp", "text/plain"), ("erp", FORM), ("helpdesk", ""), ("marketing-lists", JSON)],
)
async def test_a_wrong_content_type_is_415(door: Door, source: str, content_type: str) -> None:
    body = LIST_FORM if source == "marketing-lists" else erp_body()
    async with door.client() as client:
        response = await post_signed(client, source, body, content_type=content_type)
    assert (response.status_code, response.json()["error"]) == (415, "unsupported media type")
    assert door.inbox.events == {}


async def test_a_signed_body_with_a_nul_character_is_422_and_stores_nothing(door: Door) -> None:
    async with door.client() as client:
        answer = await post_signed(client, "erp", erp_body(order_no="SO-\x007"))
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid payload")
    assert "NUL" in answer.json()["detail"] and "order_no" in answer.json()["detail"]
    assert door.inbox.events == {}


async def test_malformed_json_is_400_and_a_model_failure_is_422(door: Door) -> None:
    async with door.client() as client:
        malformed = await post_signed(client, "erp", b'{"type": "collection.recorded",')
        invalid = await post_signed(client, "erp", erp_body(amount="12.345"))
    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed payload")
    assert malformed.json()["detail"].startswith("body is not JSON")
    assert (invalid.status_code, invalid.json()["error"]) == (422, "invalid payload")
    assert "amount" in invalid.json()["detail"]
    assert door.inbox.events == {}


async def test_a_database_outage_is_503_with_retry_after_and_no_internals(door: Door) -> None:
    door.inbox.failure = StackUnavailable("inbox unavailable: connection to 10.0.0.5 refused")
    async with door.client() as client:
        response = await post_signed(client, "erp", erp_body())
    assert (response.status_code, response.headers["retry-after"]) == (503, "30")
    assert "10.0.0.5" not in response.text


async def test_an_unexpected_failure_is_503_not_500(door: Door) -> None:
    door.inbox.failure = RuntimeError("bug in the inbox adapter")
    async with door.client() as client:
        response = await post_signed(client, "erp", erp_body())
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")
    assert "bug" not in response.text


async def test_mailchimp_checks_its_url_with_a_get(door: Door) -> None:
    async with door.client() as client:
        good = await client.get("/webhooks/marketing-lists", params={"secret": "list-current"})
        bad = await client.get("/webhooks/marketing-lists", params={"secret": "guess"})
        signed_source = await client.get("/webhooks/erp")
        unknown = await client.get("/webhooks/billing")
    assert (good.status_code, good.json()) == (200, {})
    assert (bad.status_code, bad.json()["detail"]) == (401, "secret query parameter does not match")
    assert (signed_source.status_code, signed_source.headers["allow"]) == (405, "POST")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown source")
    assert door.rejected == [("marketing-lists", "secret query parameter does not match")]


async def test_an_unknown_source_is_404(door: Door) -> None:
    async with door.client() as client:
        response = await client.post("/webhooks/billing", content=erp_body(), headers={"content-type": JSON})
    assert (response.status_code, response.json()["error"]) == (404, "unknown source")


@pytest.mark.parametrize(("ready", "status"), [(True, 200), (False, 503), (StackUnavailable("db down"), 503)])
async def test_health_and_readiness(ready: bool | Exception, status: int) -> None:
    async with Door(ready=ready).client() as client:
        health = await client.get("/healthz")
        readiness = await client.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert readiness.status_code == status


async def test_the_openapi_document_and_docs_are_off_unless_configured() -> None:
    async with Door(openapi=False).client() as client:
        answers = [(await client.get(path)).status_code for path in ("/openapi.json", "/docs", "/redoc")]
    assert answers == [404, 404, 404]


async def test_the_openapi_document_lists_every_answer_of_the_webhook_route(door: Door) -> None:
    async with door.client() as client:
        document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/webhooks/{source}"]["post"]["responses"]
    assert {"200", "401", "404", "413", "415", "422", "503"} <= set(responses)
    assert responses["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def test_sources_without_a_parser_or_a_secret_fail_at_start_up() -> None:
    async def ignore(source: str, kind: str, reason: str) -> None: ...

    async def ready() -> bool:
        return True

    inbox = MemoryInbox()
    billing = {"billing": DEFAULT_SOURCES["erp"]}
    with pytest.raises(ConfigError, match="no payload format for webhook sources \\['billing'\\]"):
        create_app(billing, inbox, on_rejected=ignore, ready=ready)
    unset = SourceConfig(scheme="zendesk", system="helpdesk", secret_envs=("CDC_SYNC_TEST_UNSET_SECRET",))
    with pytest.raises(ConfigError, match="CDC_SYNC_TEST_UNSET_SECRET"):
        create_app({"helpdesk": unset}, inbox, on_rejected=ignore, ready=ready)


# --- properties ---------------------------------------------------------------------------------
SIGNATURE_HEADERS = [
    "webhook-id",
    "webhook-timestamp",
    "Webhook-Signature",
    "x-zendesk-webhook-signature",
    "X-Zendesk-Webhook-Signature-Timestamp",
    "content-type",
    "content-length",
]
CONTENT_TYPES = [JSON, FORM, "text/plain", "application/json-patch+json", "multipart/form-data; boundary=x"]
header_values = (
    st.text(max_size=80).map(lambda text: text.encode())
    | st.binary(max_size=40)
    | st.sampled_from(
        [
            b"x" * 60_000,
            b"v1,AAAA",
            b"1795428000",
            b"-1",
            b"9" * 5000,
            iso(NOW).encode(),
            *map(str.encode, CONTENT_TYPES),
        ]
    )
)
RawHeaders = list[tuple[bytes, bytes]]
any_headers = st.lists(
    st.tuples(
        st.sampled_from(SIGNATURE_HEADERS).map(str.encode) | st.text(min_size=1, max_size=20).map(str.encode),
        header_values,
    ),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.sampled_from([erp_body(), helpdesk_body(), LIST_FORM, b"{" * 10_000, b" " * (MAX_BODY + 1)])
)
queries = (
    st.dictionaries(st.sampled_from(["secret"]) | st.text(max_size=8), st.text(max_size=30), max_size=3).map(
        lambda query: urlencode(query).encode()
    )
    | st.binary(max_size=40)
    | st.sampled_from([b"secret=list-curren", b"secret=%ff", b"secret", b"&&==&"])
)
PROPERTY = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module")
def shared() -> Door:
    return Door()


@pytest.fixture(scope="module")
def signed_door() -> Door:
    return Door()


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query: bytes
    headers: RawHeaders
    body: bytes


async def raw_request(app: FastAPI, raw: RawRequest) -> int:
    """One request straight through ASGI, as a server would hand it over: any bytes in headers and query."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": raw.method,
        "scheme": "http",
        "path": raw.path,
        "raw_path": raw.path.encode("utf-8", "surrogatepass"),
        "query_string": raw.query,
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in raw.headers],
        "server": ("crm.test", 80),
        "client": ("203.0.113.9", 40000),
    }
    messages: list[Message] = [{"type": "http.request", "body": raw.body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(next(message["status"] for message in sent if message["type"] == "http.response.start"))


@st.composite
def webhook_requests(draw: st.DrawFn) -> RawRequest:
    """Mostly a known source and the content type it takes, so most requests reach the signature check."""
    source = draw(st.sampled_from([*DEFAULT_SOURCES, *DEFAULT_SOURCES, ""])) or draw(st.text(max_size=30))
    fitting = FORM if source == "marketing-lists" else JSON
    choices = [fitting.encode(), fitting.encode(), f"{fitting}; charset=utf-8".encode(), None, b"?"]
    content_type = draw(st.sampled_from(choices))
    if content_type == b"?":
        content_type = draw(header_values)
    given_type = [] if content_type is None else [(b"content-type", content_type)]
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT"]))
    path = f"/webhooks/{source}"
    return RawRequest(method, path, draw(queries), given_type + draw(any_headers), draw(bodies))


JSON_TYPE = [(b"content-type", JSON.encode())]
DUPLICATE_SIGNATURES = [(b"webhook-signature", b"v1,x"), (b"Webhook-Signature", b"v1,y")]
HUGE_TIMESTAMP = [
    (b"webhook-id", b"m1"),
    (b"webhook-timestamp", b"9" * 5000),
    (b"webhook-signature", b"v1,x"),
]


@PROPERTY
@given(webhook_requests())
@example(RawRequest("POST", "/webhooks/erp", b"", [*JSON_TYPE, *DUPLICATE_SIGNATURES], erp_body()))
@example(RawRequest("POST", "/webhooks/erp", b"", [*JSON_TYPE, (b"content-length", b"9" * 5000)], b"{}"))
@example(RawRequest("POST", "/webhooks/erp", b"", [*JSON_TYPE, *HUGE_TIMESTAMP], erp_body()))
@example(RawRequest("GET", "/webhooks/marketing-lists", b"secret=%ff%fe", [], b""))
@example(RawRequest("POST", "/webhooks/0/", b"", JSON_TYPE, b""))  # no 307 for a trailing slash
async def test_no_request_gets_a_500_or_reaches_the_inbox_unsigned(shared: Door, raw: RawRequest) -> None:
    status = await raw_request(shared.app, raw)
    event(str(status))
    assert status in REFUSED_OR_ACCEPTED
    assert shared.inbox.events == {}


def marketing_body() -> bytes:
    document = {
        "type": "email.opened",
        "event_id": "e-1",
        "email": "a@b.c",
        "campaign_id": "c1",
        "occurred_at": iso(NOW),
    }
    return json.dumps(document).encode()


TEMPLATES = {
    "erp": erp_body(),
    "helpdesk": helpdesk_body(),
    "marketing": marketing_body(),
    "marketing-lists": LIST_FORM,
}


@st.composite
def signed_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A source and a body: its vendor's template, cut short (reaches deep into parsing), or anything."""
    source = draw(st.sampled_from(sorted(TEMPLATES)))
    template = TEMPLATES[source]
    cut = template[: draw(st.integers(min_value=0, max_value=len(template)))]
    return source, draw(st.sampled_from([template, cut]) | bodies)


@PROPERTY
@given(signed_bodies())
async def test_a_signed_body_is_stored_exactly_when_the_answer_is_200(
    signed_door: Door, source_and_body: tuple[str, bytes]
) -> None:
    source, body = source_and_body
    content_type = FORM if source == "marketing-lists" else JSON
    before = len(signed_door.inbox.events)
    async with signed_door.client() as client:
        response = await post_signed(client, source, body, content_type=content_type)
    event(str(response.status_code))
    assert response.status_code in {200, 400, 413, 422}
    stored = len(signed_door.inbox.events) - before
    assert stored == (1 if response.status_code == 200 and response.json()["status"] == "accepted" else 0)


async def test_an_optional_source_is_served_only_once_its_secret_is_set() -> None:
    rating = {"id": "r1", "ticket_id": "A100", "rating": "Good", "updated_at": "2026-11-23T10:00Z"}
    body = json.dumps(rating).encode()
    headers = {"content-type": JSON, **zendesk_signed_headers("csat-secret", iso(NOW), body)}
    with pytest.MonkeyPatch.context() as env:
        env.delenv("CDC_SYNC_HELPDESK_CSAT_SECRET", raising=False)
        off_door = Door()
    async with off_door.client() as off:
        assert (await off.post("/webhooks/helpdesk-csat", content=body, headers=headers)).status_code == 404
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDC_SYNC_HELPDESK_CSAT_SECRET", "csat-secret")
        door = Door()
    async with door.client() as on:
        assert (await on.post("/webhooks/helpdesk-csat", content=body, headers=headers)).status_code == 200
    assert [event.kind for event in door.inbox.events.values()] == ["ticket.satisfaction_rated"]
