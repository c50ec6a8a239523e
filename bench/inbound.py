"""Inbound figures: signed webhooks from a load generator on loopback into `cdc-sync serve`.

The generator must not be the limit: an aiohttp client sends pre-signed requests (signing and
encoding happen before the clock starts), for distinct bench contacts, tickets and orders, in a mix
of the event types the sources accept and the demo CRM can apply (`MIX`).
latency: requests sent at a steady rate; per event, webhook receipt → CRM commit from the inbox
(`processed_at - received_at`, both the database's clock), the vendor's send → CRM commit (the
client's clock against the database's, one host), and the HTTP round trip the vendor sees.
saturation: how many a pool of concurrent senders gets answered with a 200 per second.
"""

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from sqlalchemy import Engine, text

from bench.figures import percentiles
from cdc_sync.signing import signed_headers
from cdc_sync.vendors.zendesk.signing import zendesk_signed_headers

BASE_URL = "http://127.0.0.1:8000"
CONTACTS, TICKETS, ORDERS = 2000, 200, 100
# Share of each (source, event type) in the load; all of them apply to the demo CRM's rows.
MIX: dict[str, float] = {
    "marketing email.clicked": 0.40,
    "marketing email.opened": 0.30,
    "marketing-lists unsubscribe": 0.05,
    "marketing-lists profile": 0.05,
    "helpdesk ticket.status_changed": 0.10,
    "erp collection.recorded": 0.10,
}
TICKET_STATUSES = ("open", "pending", "solved")
SATURATION_RATE_GUESS = 2000.0  # spreads the saturation phase's event times, so list events stay distinct


@dataclass(frozen=True)
class Webhook:
    source: str
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Fixtures:
    """The CRM rows this run's webhooks name, all new and all this run's own."""

    run: str
    emails: list[str]
    tickets: list[str]
    orders: list[tuple[str, str]]  # (order no, contract no), amount 1000 each


Builder = Callable[[str, Fixtures, int, datetime], Webhook]


def _iso(at: datetime) -> str:
    return at.isoformat()


def _secret(name: str) -> str:
    return os.environ[name]


def _standard(base: str, source: str, secret_env: str, event_id: str, event: dict[str, Any]) -> Webhook:
    body = orjson.dumps(event)
    headers = signed_headers(_secret(secret_env), event_id, int(time.time()), body)
    return Webhook(source, f"{base}/webhooks/{source}", body, {"content-type": "application/json", **headers})


def _engagement(kind: str) -> Builder:
    def build(base: str, fx: Fixtures, n: int, at: datetime) -> Webhook:
        event_id = f"bench-{fx.run}-{n}"
        event = {
            "type": kind,
            "event_id": event_id,
            "email": fx.emails[n % len(fx.emails)],
            "campaign_id": f"bench-{n % 5}",
            "url": "https://example.com/offer",
            "occurred_at": _iso(at),
        }
        return _standard(base, "marketing", "CDC_SYNC_MARKETING_WEBHOOK_SECRET", event_id, event)

    return build


def _list_event(kind: str) -> Builder:
    def build(base: str, fx: Fixtures, n: int, at: datetime) -> Webhook:
        email = fx.emails[n % len(fx.emails)]
        form = {
            "type": kind,
            "fired_at": at.strftime("%Y-%m-%d %H:%M:%S"),  # the id: one per contact and second
            "data[email]": email,
            "data[list_id]": "crm-audience",
            "data[reason]": "manual",
            "data[merges][FNAME]": f"Bench{n}",
        }
        query = urlencode({"secret": _secret("CDC_SYNC_MARKETING_LIST_SECRET")})
        headers = {"content-type": "application/x-www-form-urlencoded"}
        url = f"{base}/webhooks/marketing-lists?{query}"
        return Webhook("marketing-lists", url, urlencode(form).encode(), headers)

    return build


def _ticket(base: str, fx: Fixtures, n: int, at: datetime) -> Webhook:
    ticket = fx.tickets[n % len(fx.tickets)]
    event = {
        "id": f"bench-{fx.run}-{n}",
        "type": "zen:event-type:ticket.status_changed",
        "time": _iso(at).replace("+00:00", "Z"),
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": ticket,
            "subject": "Bench",
            "status": TICKET_STATUSES[n % 3],
            "via": {"channel": "email"},
        },
        "event": {"previous": "open", "current": TICKET_STATUSES[n % 3]},
    }
    body = orjson.dumps(event)
    headers = zendesk_signed_headers(
        _secret("CDC_SYNC_HELPDESK_WEBHOOK_SECRET"), _iso(datetime.now(UTC)), body
    )
    return Webhook(
        "helpdesk", f"{base}/webhooks/helpdesk", body, {"content-type": "application/json", **headers}
    )


def _collection(base: str, fx: Fixtures, n: int, at: datetime) -> Webhook:
    order, contract = fx.orders[n % len(fx.orders)]
    event_id = f"bench-{fx.run}-{n}"
    event = {
        "type": "collection.recorded",
        "event_id": event_id,
        "order_no": order,
        "contract_no": contract,
        "amount": "500.00",
        "currency": "USD",
        "collected_ratio": "0.5",
        "occurred_at": _iso(at),
    }
    return _standard(base, "erp", "CDC_SYNC_ERP_WEBHOOK_SECRET", event_id, event)


BUILDERS: dict[str, Builder] = {
    "marketing email.clicked": _engagement("email.clicked"),
    "marketing email.opened": _engagement("email.opened"),
    "marketing-lists unsubscribe": _list_event("unsubscribe"),
    "marketing-lists profile": _list_event("profile"),
    "helpdesk ticket.status_changed": _ticket,
    "erp collection.recorded": _collection,
}


def _kinds_in_order() -> list[str]:
    """A repeating deck of 100 picks with MIX's shares, interleaved so every second has the mix."""
    deck = [kind for kind, share in MIX.items() for _ in range(round(share * 100))]
    return [deck[(i * 37) % len(deck)] for i in range(len(deck))]


def webhooks(base: str, fx: Fixtures, count: int, rate: float, offset: int = 0) -> list[Webhook]:
    """`count` webhooks, each stamped with the time it is due to be sent at `rate` per second."""
    deck, start = _kinds_in_order(), datetime.now(UTC)
    return [
        BUILDERS[deck[n % len(deck)]](base, fx, n, start + timedelta(seconds=(n - offset) / rate))
        for n in range(offset, offset + count)
    ]


def create_fixtures(crm: Engine) -> Fixtures:
    run = uuid.uuid4().hex[:8]
    emails = [f"bench-{run}-{i}@example.com" for i in range(CONTACTS)]
    tickets = [f"bench-{run}-T{i}" for i in range(TICKETS)]
    orders = [(f"bench-{run}-O{i}", f"bench-{run}-C{i}") for i in range(ORDERS)]
    with crm.begin() as conn:
        ids = (
            conn.execute(
                text(
                    "INSERT INTO contacts (email, first_name) "
                    "SELECT unnest(CAST(:e AS text[])), 'Bench' RETURNING id"
                ),
                {"e": emails},
            )
            .scalars()
            .all()
        )
        conn.execute(
            text(
                "INSERT INTO tickets (external_id, contact_id, subject) "
                "SELECT unnest(CAST(:t AS text[])), unnest(CAST(:c AS bigint[])), 'Bench'"
            ),
            {"t": tickets, "c": list(ids[:TICKETS])},
        )
        for (order, contract), contact in zip(orders, ids, strict=False):
            conn.execute(
                text(
                    "WITH o AS (INSERT INTO opportunities (name, amount, contact_id) "
                    "VALUES ('Bench', 1000, :p) RETURNING id), "
                    "c AS (INSERT INTO contracts (contract_no, opportunity_id, amount) "
                    "SELECT :cn, id, 1000 FROM o RETURNING id, opportunity_id) "
                    "INSERT INTO orders (order_no, contract_id, opportunity_id, amount) "
                    "SELECT :on, id, opportunity_id, 1000 FROM c"
                ),
                {"p": contact, "cn": contract, "on": order},
            )
    return Fixtures(run, emails, tickets, orders)


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    round_trips: list[float] = field(default_factory=list)
    accepted: dict[tuple[str, str], float] = field(default_factory=dict)  # (source, id) → sent at (epoch)


async def _send(session: aiohttp.ClientSession, hook: Webhook, tally: Tally) -> None:
    sent_at, started = time.time(), time.perf_counter()
    try:
        async with session.post(hook.url, data=hook.body, headers=hook.headers) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.statuses[type(exc).__name__] += 1
        return
    tally.statuses[str(status)] += 1
    if status == 200:
        tally.round_trips.append((time.perf_counter() - started) * 1000)
        receipt = orjson.loads(body)
        if receipt["status"] == "accepted":
            tally.accepted[(hook.source, receipt["event_id"])] = sent_at


def _session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def _steady(hooks: list[Webhook], rate: float, tally: Tally) -> float:
    tasks: set[asyncio.Task[None]] = set()
    async with _session(512) as session:
        start = time.perf_counter()
        for sent, hook in enumerate(hooks):
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
            task = asyncio.create_task(_send(session, hook, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        achieved = len(hooks) / (time.perf_counter() - start)
        await asyncio.gather(*tasks)
    return achieved


async def _saturate(base: str, fx: Fixtures, seconds: float, senders: int = 128) -> tuple[float, Tally]:
    tally = Tally()
    hooks = iter(
        webhooks(base, fx, int(SATURATION_RATE_GUESS * seconds * 4), SATURATION_RATE_GUESS, 10_000_000)
    )
    async with _session(senders) as session:
        deadline = time.perf_counter() + seconds

        async def sender() -> None:
            while time.perf_counter() < deadline:
                await _send(session, next(hooks), tally)

        await asyncio.gather(*(sender() for _ in range(senders)))
    return tally.statuses["200"] / seconds, tally


_ACCEPTED_KEYS = "(source, event_id) IN (SELECT * FROM unnest(CAST(:s AS text[]), CAST(:e AS text[])))"


def _commits(
    state: Engine, accepted: Mapping[tuple[str, str], float], timeout_s: float = 180
) -> list[tuple[float, float]]:
    """Per applied event: (receipt → commit ms, send → commit ms); waits until all are applied."""
    query = text(
        "SELECT source, event_id, extract(epoch FROM processed_at - received_at) * 1000, "
        "extract(epoch FROM processed_at) FROM cdc_sync.inbox "
        f"WHERE {_ACCEPTED_KEYS} AND status <> 'pending'"
    )
    keys = {"s": [k[0] for k in accepted], "e": [k[1] for k in accepted]}
    deadline = time.monotonic() + timeout_s
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with state.connect() as conn:
            rows = list(conn.execute(query, keys))
        if len(rows) == len(accepted):
            break
        time.sleep(0.5)
    return [(float(r[2]), (float(r[3]) - accepted[(r[0], r[1])]) * 1000) for r in rows]


def _outcomes(state: Engine, accepted: Mapping[tuple[str, str], float]) -> dict[str, int]:
    query = text(f"SELECT status, count(*) FROM cdc_sync.inbox WHERE {_ACCEPTED_KEYS} GROUP BY status")
    with state.connect() as conn:
        rows = conn.execute(query, {"s": [k[0] for k in accepted], "e": [k[1] for k in accepted]})
        return {str(status): int(count) for status, count in rows}


def _cpu_s(pids: Mapping[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for name, pid in pids.items():
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / tick
    return used


def inbound(
    crm: Engine,
    state: Engine,
    rate: float,
    seconds: float,
    pids: Mapping[str, int] | None = None,
    base_url: str = BASE_URL,
) -> dict[str, Any]:
    """Steady load at `rate` for `seconds`, then saturation; `pids` (e.g. serve, writer) adds their CPU."""
    fx = create_fixtures(crm)
    hooks = webhooks(base_url, fx, int(rate * seconds), rate)
    tally, cpu_before, client_before = Tally(), _cpu_s(pids or {}), time.process_time()
    achieved = asyncio.run(_steady(hooks, rate, tally))
    client_cpu = time.process_time() - client_before
    commits = _commits(state, tally.accepted)
    cpu_after = _cpu_s(pids or {})
    saturation, saturated = asyncio.run(_saturate(base_url, fx, 5.0))
    return {
        "target_requests_per_s": rate,
        "achieved_requests_per_s": round(achieved, 1),
        "accepted": len(tally.accepted),
        "applied": len(commits),
        "outcomes": _outcomes(state, tally.accepted),
        "status_counts": dict(tally.statuses),
        "receipt_to_crm_commit_ms": percentiles([c[0] for c in commits]),
        "send_to_crm_commit_ms": percentiles([c[1] for c in commits]),
        "http_round_trip_ms": percentiles(tally.round_trips),
        "saturation_requests_per_s": round(saturation, 1),
        "saturation_status_counts": dict(saturated.statuses),
        "mix": MIX,
        "distinct_contacts": CONTACTS,
        "client_cpu_ms_per_request": round(client_cpu * 1000 / max(len(hooks), 1), 3),
        "cpu_s_during_steady": {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_after},
    }
