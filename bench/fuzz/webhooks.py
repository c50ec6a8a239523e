"""Webhook requests for every source: valid vendor events, mutated into hostile ones, signed right,
wrong or not at all (hypothesis strategies). Pure: signing happens at send time, with `now`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from hypothesis import strategies as st

from bench.fuzz.hostile import POISON, Json, json_bytes, maybe_spliced, mutated, poisoned, texts
from cdc_sync.signing import signed_headers
from cdc_sync.vendors.zendesk.signing import zendesk_signed_headers

Signing = Literal[
    "valid", "valid_among_junk", "unsigned", "wrong_secret", "tampered", "stale", "future", "junk"
]
# Requests signed with the source's real secret (valid_among_junk: one good signature among bad ones).
AUTHENTIC: frozenset[Signing] = frozenset({"valid", "valid_among_junk"})
SIGNINGS: tuple[Signing, ...] = (
    *(("valid",) * 12),
    "valid_among_junk",
    "unsigned",
    "wrong_secret",
    "tampered",
    "stale",
    "future",
    "junk",
)
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
MEDIA_TYPES = {"helpdesk": JSON, "erp": JSON, "marketing": JSON, "marketing-lists": FORM}
ODD_CONTENT_TYPES = ("text/plain", "", "application/json\x00", "multipart/form-data; boundary=x", JSON, FORM)
TOO_LARGE = 300_000
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Case:
    """One request to `/webhooks/{source}`, before signing."""

    source: str
    body: bytes
    signing: Signing
    content_type: str | None
    method: str = "POST"
    path_suffix: str = ""  # non-empty: a path that names no source
    msg_id: str = "fuzz"
    junk: tuple[str, ...] = ()  # hostile header or query values for the junk signings

    @property
    def authentic(self) -> bool:
        return self.signing in AUTHENTIC

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "method": self.method,
            "path": f"/webhooks/{self.source}{self.path_suffix}",
            "content_type": self.content_type,
            "signing": self.signing,
            "msg_id": self.msg_id,
            "junk": list(self.junk),
            "body": self.body[:4000].decode("utf-8", "backslashreplace"),
            "body_bytes": len(self.body),
        }


# --- valid vendor events ------------------------------------------------------------------------
plain_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
ids = st.one_of(
    st.integers(min_value=1, max_value=10**12), st.text("abcdefXYZ0123456789-_", min_size=1, max_size=20)
)
event_ids = st.uuids().map(lambda u: f"fuzz-{u}")
instants = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
emails = st.builds("{}@{}.example".format, st.text("abcxyz019.+_-", min_size=1, max_size=12), ids.map(str))


ZENDESK_KINDS = st.sampled_from(["status_changed", "priority_changed", "satisfaction_rated", "created"])
STATUSES = st.sampled_from(["new", "open", "pending", "hold", "solved", "closed"])
PRIORITIES = st.sampled_from([None, "low", "normal", "high", "urgent"])
CHANNELS = st.sampled_from(["email", "web", "api", None])
SCORES = st.none() | st.integers(min_value=0, max_value=5)
ACCOUNTS = st.integers(min_value=1, max_value=10**9)
ERP_KINDS = st.sampled_from(["collection.recorded", "refund.recorded"])
AMOUNTS = st.decimals(min_value=0, max_value=10**11, places=2)
RATIOS = st.decimals(min_value=0, max_value=1, places=3)
CURRENCIES = st.sampled_from(["EUR", "USD", "TRY"])
ENGAGEMENTS = st.sampled_from(["email.clicked", "email.opened"])
URLS = st.none() | st.just("https://example.com/offer")
LIST_KINDS = st.sampled_from(["subscribe", "unsubscribe", "profile", "upemail", "cleaned"])
REASONS = st.sampled_from(["manual", "abuse", "hard"])
EXTERNAL_IDS = st.none() | ids.map(str)
TAGS = st.lists(plain_text, max_size=3)
REFUND_REASONS = st.none() | plain_text


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@st.composite
def zendesk_event(draw: st.DrawFn) -> Json:
    kind = draw(ZENDESK_KINDS)
    ticket = draw(ids)
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "id": draw(event_ids),
        "time": _iso(draw(instants)),
        "account_id": draw(ACCOUNTS),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": ticket,
            "status": draw(STATUSES),
            "priority": draw(PRIORITIES),
            "via": {"channel": draw(CHANNELS)},
            "requester_external_id": draw(EXTERNAL_IDS),
            "satisfaction_score": draw(SCORES),
            "subject": draw(plain_text),
            "tags": draw(TAGS),
        },
        "event": {"previous": draw(plain_text), "current": draw(plain_text), "meta": {}},
    }


@st.composite
def erp_event(draw: st.DrawFn) -> Json:
    kind = draw(ERP_KINDS)
    amount = draw(AMOUNTS)
    event = {
        "type": kind,
        "event_id": draw(event_ids),
        "order_no": draw(ids),
        "contract_no": draw(ids),
        "amount": draw(st.sampled_from([str(amount), float(amount)])),
        "currency": draw(CURRENCIES),
        "occurred_at": _iso(draw(instants)),
    }
    if kind == "collection.recorded":
        event["collected_ratio"] = str(draw(RATIOS))
    else:
        event["reason"] = draw(REFUND_REASONS)
    return event


@st.composite
def engagement_event(draw: st.DrawFn) -> Json:
    return {
        "type": draw(ENGAGEMENTS),
        "event_id": draw(event_ids),
        "email": draw(emails),
        "campaign_id": draw(ids),
        "url": draw(URLS),
        "occurred_at": _iso(draw(instants)),
    }


@st.composite
def list_event(draw: st.DrawFn) -> list[tuple[str, str]]:
    kind = draw(LIST_KINDS)
    fired = draw(instants).strftime("%Y-%m-%d %H:%M:%S")
    address = [("data[old_email]", draw(emails)), ("data[new_email]", draw(emails))]
    pairs = [
        ("type", kind),
        ("fired_at", fired),
        *(address if kind == "upemail" else [("data[email]", draw(emails))]),
    ]
    pairs += [
        ("data[list_id]", str(draw(ids))),
        ("data[reason]", draw(REASONS)),
    ]
    return [*pairs, ("data[merges][FNAME]", draw(plain_text)), ("data[merges][LNAME]", draw(plain_text))]


# --- hostile bodies ---------------------------------------------------------------------------
HOSTILE_KEYS = (
    "data[",
    "data]",
    "data",
    "data[merges]",
    "data[merges][FNAME][x]",
    "data[email][]",
    "[",
    "[]",
    "type[x]",
    "data[merges]" + "[a]" * 300,
    "a" * 1000,
    "data[\x00]",
)
keys = st.one_of(st.sampled_from(HOSTILE_KEYS), texts)
FORM_MUTATIONS = st.sampled_from(["value", "value", "key", "delete", "add", "flood", "poison", "poison"])


@st.composite
def mutated_pairs(draw: st.DrawFn, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    form = list(pairs)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=max(len(form) - 1, 0)))
        how = draw(FORM_MUTATIONS)
        if how == "poison" and form:
            key, value = form[at]
            form[at] = (key, poisoned([value], (0,), draw(POISON), draw(st.integers(0, 40)))[0])
        elif how == "flood":
            form += [(f"data[merges][F{i}]", "x") for i in range(1001)]
        elif how == "add" or not form:
            form.insert(at, (draw(keys), draw(texts)))
        elif how == "delete":
            del form[at]
        else:
            key, value = form[at]
            form[at] = (draw(keys), value) if how == "key" else (key, draw(texts))
    return form


def _form_bytes(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()


FORM_JUNK_BYTES = st.sampled_from([b"%zz", b"%ff", b"%", b"&&", b"=", b";", b"+", b"%00", b"\xff"])
ONE_IN_10 = st.integers(min_value=0, max_value=9)


@st.composite
def form_body(draw: st.DrawFn) -> bytes:
    body = _form_bytes(draw(mutated_pairs(draw(list_event()))))
    if draw(ONE_IN_10) == 0:
        at = draw(st.integers(min_value=0, max_value=len(body)))
        body = body[:at] + draw(FORM_JUNK_BYTES) + body[at:]
    return draw(maybe_spliced(body))


def json_body(events: st.SearchStrategy[Json]) -> st.SearchStrategy[bytes]:
    @st.composite
    def body(draw: st.DrawFn) -> bytes:
        encoded = json_bytes(draw(mutated(draw(events))), ascii_only=draw(st.booleans()))
        return draw(maybe_spliced(encoded))

    return body()


BODIES: dict[str, st.SearchStrategy[bytes]] = {
    "helpdesk": json_body(zendesk_event()),
    "erp": json_body(erp_event()),
    "marketing": json_body(engagement_event()),
    "marketing-lists": form_body(),
}


def _padded(body: bytes, content_type: str) -> bytes:
    pad = b" " * TOO_LARGE if content_type == JSON else b"&x=" + b"y" * TOO_LARGE
    return body + pad


JUNK_VALUES = ("9" * 30, "-1", "1e9", "٢٠٢٦", "v1,", "v1,AAAA", "v2,abc", " ", "\x00", "\u00e9", "2026-11-23")
ONE_IN_200 = st.integers(min_value=0, max_value=199)
ONE_IN_40 = st.integers(min_value=0, max_value=39)
METHODS = st.sampled_from(["POST"] * 60 + ["GET", "PUT", "DELETE"])
SUFFIXES = st.sampled_from([""] * 99 + ["x", "/x", "%00", "%2F.."])
CHOSEN_SIGNINGS = st.sampled_from(SIGNINGS)
MSG_IDS = st.one_of(event_ids, st.text("abcXYZ019._-", min_size=1, max_size=40))
JUNK = st.lists(st.one_of(texts, st.sampled_from(JUNK_VALUES)), min_size=3, max_size=3).map(tuple)
ODD_TYPES = st.none() | st.sampled_from(ODD_CONTENT_TYPES) | texts
CONTENT_TYPES = {
    source: st.sampled_from([media] * 16 + [f"{media}; charset=utf-8", media.upper()])
    for source, media in MEDIA_TYPES.items()
}


@st.composite
def cases(draw: st.DrawFn, source: str) -> Case:
    """Mostly validly signed POSTs of mutated events; the rest forged, stale, mis-typed, misrouted."""
    body = draw(BODIES[source])
    if draw(ONE_IN_200) == 0:
        body = _padded(body, MEDIA_TYPES[source])
    content_type: str | None = draw(CONTENT_TYPES[source])
    if draw(ONE_IN_40) == 0:
        content_type = draw(ODD_TYPES)
    return Case(
        source=source,
        body=body,
        signing=draw(CHOSEN_SIGNINGS),
        content_type=content_type,
        method=draw(METHODS),
        path_suffix=draw(SUFFIXES),
        msg_id=draw(MSG_IDS),
        junk=draw(JUNK),
    )


# --- signing at send time ---------------------------------------------------------------------
@dataclass(frozen=True)
class Signed:
    headers: Headers
    query: str


def _header_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _standard(case: Case, secret: str, now: float) -> dict[str, str]:
    sent_at = _sent_at(case, now)
    body = case.body + b" " if case.signing == "tampered" else case.body
    headers = signed_headers(secret, case.msg_id, int(sent_at), body)
    if case.signing == "valid_among_junk":
        headers["webhook-signature"] = f"v1,{case.junk[0]} {headers['webhook-signature']} {case.junk[1]}"
    if case.signing == "junk":
        return dict(zip(("webhook-id", "webhook-timestamp", "webhook-signature"), case.junk, strict=True))
    return headers


def _zendesk(case: Case, secret: str, now: float) -> dict[str, str]:
    stamp = datetime.fromtimestamp(_sent_at(case, now), UTC).isoformat()
    body = case.body + b" " if case.signing == "tampered" else case.body
    headers = zendesk_signed_headers(secret, stamp, body)
    if case.signing == "junk":
        return dict(zip(headers, case.junk[:2], strict=True))
    return headers


def _sent_at(case: Case, now: float) -> float:
    skew = {"stale": -timedelta(hours=1), "future": timedelta(hours=1)}.get(case.signing, timedelta())
    return now + skew.total_seconds()


def _secret_query(case: Case, secret: str) -> str:
    given = {
        "valid": [secret],
        "valid_among_junk": [case.junk[0], secret],  # the last value counts, like the vendor's retry
        "unsigned": [],
        "junk": list(case.junk),
    }.get(case.signing, [f"{secret}x"])
    return urlencode([("secret", value) for value in given], errors="surrogatepass")


SIGNERS: dict[str, Callable[[Case, str, float], dict[str, str]]] = {
    "standard_webhooks": _standard,
    "zendesk": _zendesk,
}


def signed(case: Case, scheme: str, secret: str, now: float) -> Signed:
    """The request's headers and query for the source's scheme, as the case's signing asks."""
    wrong = secret if case.signing != "wrong_secret" else _wrong(scheme, secret)
    headers: dict[str, str] = {}
    if scheme in SIGNERS and case.signing != "unsigned":
        headers = SIGNERS[scheme](case, wrong, now)
    query = _secret_query(case, secret) if scheme == "url_secret" else ""
    pairs = [(name.encode(), _header_bytes(value)) for name, value in headers.items()]
    if case.content_type is not None:
        pairs.append((b"content-type", _header_bytes(case.content_type)))
    return Signed(pairs, query)


def _wrong(scheme: str, secret: str) -> str:
    return "whsec_" + "d3Jvbmcgc2VjcmV0" if scheme == "standard_webhooks" else secret + "x"
