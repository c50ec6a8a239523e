"""Inbound figures: signed webhooks from a load generator on loopback into `cdc-sync serve`.

latency: clicks sent at a steady rate; per event, webhook receipt → CRM commit from the inbox
(`processed_at - received_at`, both the database's clock) and the HTTP round trip the vendor sees.
saturation: how many a pool of concurrent senders gets answered per second.
"""

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, text

from bench.figures import percentiles
from cdc_sync.signing import signed_headers

URL = "http://127.0.0.1:8000/webhooks/marketing"


def _click(email: str) -> tuple[str, bytes, dict[str, str]]:
    event_id = f"bench-{uuid.uuid4()}"
    event = {
        "type": "email.clicked",
        "event_id": event_id,
        "email": email,
        "campaign_id": "bench",
        "url": "https://example.com",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = orjson.dumps(event)
    secret = os.environ["CDC_SYNC_MARKETING_WEBHOOK_SECRET"]
    headers = {"content-type": "application/json", **signed_headers(secret, event_id, int(time.time()), body)}
    return event_id, body, headers


async def _send(client: httpx.AsyncClient, email: str, round_trips: list[float], ids: list[str]) -> None:
    event_id, body, headers = _click(email)
    started = time.perf_counter()
    response = await client.post(URL, content=body, headers=headers)
    if response.status_code == 200:
        round_trips.append((time.perf_counter() - started) * 1000)
        ids.append(event_id)


async def _steady(email: str, rate: float, seconds: float) -> tuple[list[float], list[str], float]:
    round_trips: list[float] = []
    ids: list[str] = []
    tasks: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < seconds:
            task = asyncio.create_task(_send(client, email, round_trips, ids))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
        achieved = sent / (time.perf_counter() - start)
    return round_trips, ids, achieved


async def _saturate(email: str, seconds: float, senders: int = 64) -> float:
    answered = 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=senders), timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def sender() -> None:
            nonlocal answered
            while time.perf_counter() < deadline:
                _, body, headers = _click(email)
                if (await client.post(URL, content=body, headers=headers)).status_code == 200:
                    answered += 1

        await asyncio.gather(*(sender() for _ in range(senders)))
    return answered / seconds


def _commit_latencies(state: Engine, ids: list[str], timeout_s: float = 180) -> list[float]:
    query = text(
        "SELECT extract(epoch FROM processed_at - received_at) * 1000 FROM cdc_sync.inbox "
        "WHERE source = 'marketing' AND event_id = ANY(:ids) AND status <> 'pending'"
    )
    deadline = time.monotonic() + timeout_s
    rows: list[float] = []
    while time.monotonic() < deadline:
        with state.connect() as conn:
            rows = [float(value) for value in conn.execute(query, {"ids": ids}).scalars()]
        if len(rows) == len(ids):
            break
        time.sleep(0.5)
    return rows


def inbound(crm: Engine, state: Engine, rate: float, seconds: float) -> dict[str, Any]:
    email = f"bench-inbound-{uuid.uuid4().hex[:6]}@example.com"
    with crm.begin() as conn:
        conn.execute(text("INSERT INTO contacts (email) VALUES (:e)"), {"e": email})
    round_trips, ids, achieved = asyncio.run(_steady(email, rate, seconds))
    commits = _commit_latencies(state, ids)
    saturation = asyncio.run(_saturate(email, 5.0))
    return {
        "target_requests_per_s": rate,
        "achieved_requests_per_s": round(achieved, 1),
        "accepted": len(ids),
        "applied": len(commits),
        "receipt_to_crm_commit_ms": percentiles(commits),
        "http_round_trip_ms": percentiles(round_trips),
        "saturation_requests_per_s": round(saturation, 1),
    }
