"""Call-center figures: signed call events at the founding documents' peak into `cdc-sync serve`.

Load: calls starting at `rate / 5` per second, each sending five events at its own pace —
ringing, answered 3 s later, ended after 60 s of talk, recording ready 5 s after, QA tags 30 s
after that (events due after the run ends are not sent). 90 % of the callers are CRM contacts
(distinct numbers), 10 % unknown numbers (new leads). An SSE client follows `GET /events/calls`.
Figures: call record visible (receipt → CRM commit of `call.ended`, the database's clock), screen
pop (the vendor's send of `call.ringing` → the SSE message, one clock) — both for the steady part
before the writer is stalled, and overall — webhook failure rate, and the time to clear what is
pending after the peak. Congestion: the writer is stopped (SIGSTOP) for `stall_s` from 60 % of the
run; for the events received meanwhile, receipt → commit per class shows whether call records
went first while recordings and QA tags waited.
"""

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from sqlalchemy import Engine, text

from bench.figures import percentiles
from cdc_sync.signing import signed_headers

BASE_URL = "http://127.0.0.1:8000"
EVENTS_PER_CALL = 5
# (kind, seconds after the call starts)
TIMELINE = (
    ("call.ringing", 0.0),
    ("call.answered", 3.0),
    ("call.ended", 63.0),
    ("call.recording_ready", 68.0),
    ("call.qa_completed", 98.0),
)
URGENT = frozenset({"call.ringing", "call.answered", "call.ended"})
KNOWN_SHARE = 0.9


@dataclass(frozen=True)
class Due:
    at_s: float  # after the start of the run
    call: str
    kind: str
    number: str
    body: bytes
    event_id: str


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    sent_at: dict[str, float] = field(default_factory=dict)  # event id → epoch
    pops: dict[str, float] = field(default_factory=dict)  # call → epoch the SSE message arrived


def create_contacts(crm: Engine, run: str, count: int) -> list[str]:
    """`count` contacts with distinct numbers of this run; their E.164 numbers."""
    numbers = [f"+4930{run}{i:05d}" for i in range(count)]
    with crm.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (first_name, phone, country) "
                "SELECT 'Caller', unnest(CAST(:p AS text[])), 'DE'"
            ),
            {"p": numbers},
        )
    return numbers


def schedule(run: str, numbers: list[str], rate: float, seconds: float) -> list[Due]:
    """Every event due within the run, in send order."""
    calls, start, due = int(rate / EVENTS_PER_CALL * seconds), datetime.now(UTC), []
    for n in range(calls):
        begins = n * EVENTS_PER_CALL / rate
        call = f"bench-{run}-{n}"
        known = (n % 10) < KNOWN_SHARE * 10
        number = numbers[n % len(numbers)] if known else f"+4940{run}{n:05d}"
        for kind, offset in TIMELINE:
            if begins + offset <= seconds:
                due.append(_event(call, kind, number, start, begins, offset))
    return sorted(due, key=lambda d: d.at_s)


def _event(call: str, kind: str, number: str, start: datetime, begins: float, offset: float) -> Due:
    at = start + timedelta(seconds=begins + offset)
    data: dict[str, Any] = {"call_id": call, "direction": "inbound", "from_number": number}
    data["agent_id"] = "bench-agent"
    by_kind: dict[str, dict[str, Any]] = {
        "call.ringing": {"status": "ringing", "started_at": at.isoformat()},
        "call.answered": {"connected_at": at.isoformat()},
        "call.ended": {"status": "answered", "ended_at": at.isoformat(), "talk_duration_sec": 60},
        "call.recording_ready": {
            "recording_ready": True,
            "recording_url": f"https://media.callcenter.example/recordings/{call}.mp3?sig=bench",
        },
        "call.qa_completed": {"qa_tags": ["bench"]},
    }
    data |= by_kind[kind]
    event_id = f"{call}-{kind}"
    body = orjson.dumps({"event_id": event_id, "type": kind, "occurred_at": at.isoformat(), "call": data})
    return Due(begins + offset, call, kind, number, body, event_id)


async def _send(session: aiohttp.ClientSession, due: Due, tally: Tally) -> None:
    secret = os.environ["CDC_SYNC_CALLCENTER_WEBHOOK_SECRET"]
    signed = signed_headers(secret, due.event_id, int(time.time()), due.body)
    headers = {"content-type": "application/json", **signed}
    sent = time.time()
    try:
        async with session.post(f"{BASE_URL}/webhooks/callcenter", data=due.body, headers=headers) as answer:
            await answer.read()
            tally.statuses[str(answer.status)] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.statuses[type(exc).__name__] += 1
        return
    if answer.status == 200:
        tally.sent_at[due.event_id] = sent


async def _follow(session: aiohttp.ClientSession, tally: Tally, ready: asyncio.Event) -> None:
    headers = {"authorization": f"Bearer {os.environ['CDC_SYNC_EVENTS_TOKEN']}"}
    endless = aiohttp.ClientTimeout()
    async with session.get(f"{BASE_URL}/events/calls", headers=headers, timeout=endless) as live:
        async for raw in live.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(": following"):
                ready.set()
            elif line.startswith("data: "):
                tally.pops.setdefault(str(orjson.loads(line[6:])["call"]), time.time())


async def _run(load: list[Due], writer_pid: int, stall: tuple[float, float], tally: Tally) -> float:
    """Send everything on time, stalling the writer in `stall` (start, end seconds); returns when the
    last event was sent (epoch)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        ready = asyncio.Event()
        follower = asyncio.create_task(_follow(session, tally, ready))
        await asyncio.wait_for(ready.wait(), 30)
        tasks: set[asyncio.Task[None]] = set()
        start, stalled = time.perf_counter(), False
        for due in load:
            await asyncio.sleep(max(0.0, start + due.at_s - time.perf_counter()))
            elapsed = time.perf_counter() - start
            if not stalled and stall[0] <= elapsed < stall[1]:
                os.kill(writer_pid, signal.SIGSTOP)
                stalled = True
            elif stalled and elapsed >= stall[1]:
                os.kill(writer_pid, signal.SIGCONT)
                stalled = False
            task = asyncio.create_task(_send(session, due, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if stalled:
            os.kill(writer_pid, signal.SIGCONT)
        await asyncio.gather(*tasks)
        finished = time.time()
        await asyncio.sleep(2)  # the last pops
        follower.cancel()
    return finished


def _applied(state: Engine, run: str, timeout_s: float) -> list[Any]:
    query = text(
        "SELECT event_id, kind, extract(epoch FROM received_at), extract(epoch FROM processed_at), status "
        "FROM cdc_sync.inbox WHERE source = 'callcenter' AND event_id LIKE :run"
    )
    deadline, rows = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        with state.connect() as conn:
            rows = list(conn.execute(query, {"run": f"bench-{run}-%"}))
        if rows and all(row[4] != "pending" for row in rows):
            break
        time.sleep(1)
    return rows


def callcenter(
    crm: Engine, state: Engine, writer_pid: int, rate: float, seconds: float, stall_s: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:5]
    numbers = create_contacts(crm, run, 2000)
    load, tally = schedule(run, numbers, rate, seconds), Tally()
    stall = (seconds * 0.6, min(seconds, seconds * 0.6 + stall_s))
    finished = asyncio.run(_run(load, writer_pid, stall, tally))
    rows = _applied(state, run, timeout_s=600)
    cleared_s = max((float(r[3]) for r in rows if r[3] is not None), default=finished) - finished
    by_kind = {row[0]: row for row in rows}
    ended = [d for d in load if d.kind == "call.ended" and d.event_id in by_kind]
    steady = [by_kind[d.event_id] for d in ended if d.at_s < stall[0]]
    pops = _pops(load, tally, stall)
    return {
        "events": len(load),
        "rate_per_min": rate * 60,
        "seconds": seconds,
        "mix": {kind: sum(1 for d in load if d.kind == kind) for kind, _ in TIMELINE},
        "known_callers_share": KNOWN_SHARE,
        "status_counts": dict(tally.statuses),
        "webhook_failure_rate": round(1 - tally.statuses["200"] / max(len(load), 1), 5),
        "outcomes": dict(Counter(str(r[4]) for r in rows)),
        "call_record_visible_ms": _waited_ms(steady),
        "call_record_visible_overall_ms": _waited_ms([by_kind[d.event_id] for d in ended]),
        "screen_pop_ms": percentiles([p * 1000 for p in pops["steady"]]),
        "screen_pop_overall_ms": percentiles([p * 1000 for found in pops.values() for p in found]),
        "screen_pops": sum(len(found) for found in pops.values()),
        "backlog_cleared_after_peak_s": round(max(cleared_s, 0.0), 2),
        "congestion": _congestion(load, by_kind, stall),
    }


def _pops(load: list[Due], tally: Tally, stall: tuple[float, float]) -> dict[str, list[float]]:
    """Send of `call.ringing` → its SSE message (seconds): before the stall (steady), from it on."""
    found: dict[str, list[float]] = {"steady": [], "stall_and_after": []}
    for due in load:
        if due.kind == "call.ringing" and due.call in tally.pops and due.event_id in tally.sent_at:
            when = "steady" if due.at_s < stall[0] else "stall_and_after"
            found[when].append(tally.pops[due.call] - tally.sent_at[due.event_id])
    return found


def _waited_ms(rows: list[Any]) -> dict[str, Any]:
    return percentiles([(float(r[3]) - float(r[2])) * 1000 for r in rows if r[3] is not None])


def _congestion(load: list[Due], by_kind: dict[str, Any], stall: tuple[float, float]) -> dict[str, Any]:
    """Events received while the writer was stopped: receipt → commit per class."""
    inside = [by_kind[d.event_id] for d in load if d.event_id in by_kind and stall[0] <= d.at_s < stall[1]]
    classes = {
        "call_records": [r for r in inside if r[1] in URGENT],
        "recordings_and_qa": [r for r in inside if r[1] not in URGENT],
    }
    return {
        "writer_stopped_s": round(stall[1] - stall[0], 1),
        "stopped_from_s": round(stall[0], 1),
        **{f"{name}_receipt_to_commit_ms": _waited_ms(rows) for name, rows in classes.items()},
        "events": {name: len(rows) for name, rows in classes.items()},
    }
