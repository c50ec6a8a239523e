"""kill -9 of `cdc-sync serve --no-writer` and of `cdc-sync writer`, in turns, during a stream of
signed webhooks (bench.inbound's mix). The sender behaves like a vendor: a webhook not answered
200 is sent again. Afterwards every webhook answered 200 must be in the inbox once and finished,
and every click or open one CRM activity.
"""

import asyncio
import threading
import time
from collections.abc import Iterable

import aiohttp
import orjson
from sqlalchemy import Engine, text

from bench.chaos.stream import Process
from bench.chaos.verdict import Counts, Outcome, inbound_counts
from bench.inbound import BASE_URL, Webhook, create_fixtures, webhooks
from bench.processes import CLI, wait_http
from bench.rig import Rig

RETRY_S, ATTEMPTS = 0.25, 240
FINISH_WAIT_S = 300.0
Key = tuple[str, str]


async def _deliver(
    session: aiohttp.ClientSession, hook: Webhook, sent: dict[Key, int], gave_up: list[Webhook]
) -> None:
    """Sends until answered 200, like a vendor's retries; counts the attempts."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with session.post(hook.url, data=hook.body, headers=hook.headers) as response:
                if response.status == 200:
                    receipt = orjson.loads(await response.read())
                    sent[(hook.source, str(receipt["event_id"]))] = attempt
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(RETRY_S)
    gave_up.append(hook)


async def _stream(hooks: list[Webhook], rate: float) -> tuple[dict[Key, int], list[Webhook]]:
    sent: dict[Key, int] = {}
    gave_up: list[Webhook] = []
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        start, tasks = time.perf_counter(), []
        for n, hook in enumerate(hooks):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(_deliver(session, hook, sent, gave_up)))
        await asyncio.gather(*tasks)
    return sent, gave_up


def _killer(targets: list[Process], kills: int, every_s: float, done: list[float]) -> None:
    for n in range(kills):
        time.sleep(every_s)
        target = targets[n % len(targets)]
        target.kill9()
        target.start()
        done.append(time.monotonic())


def _finished(state: Engine, keys: Iterable[Key]) -> dict[Key, int]:
    pairs = list(keys)
    query = text(
        "SELECT source, event_id, count(*) FROM cdc_sync.inbox WHERE status <> 'pending' "
        "AND (source, event_id) IN (SELECT * FROM unnest(CAST(:s AS text[]), CAST(:e AS text[]))) "
        "GROUP BY 1, 2"
    )
    with state.connect() as conn:
        rows = conn.execute(query, {"s": [k[0] for k in pairs], "e": [k[1] for k in pairs]}).all()
    return {(str(s), str(e)): int(n) for s, e, n in rows}


def _activities(crm: Engine, engagements: list[Key]) -> dict[Key, int]:
    query = text(
        "SELECT source_event_id, count(*) FROM activities WHERE source = 'marketing' "
        "AND source_event_id = ANY(:ids) GROUP BY 1"
    )
    with crm.connect() as conn:
        rows = conn.execute(query, {"ids": [e for _, e in engagements]}).all()
    found: dict[str, int] = {str(event): int(n) for event, n in rows}
    return {key: found.get(key[1], 0) for key in engagements}


def _wait_finished(state: Engine, sent: dict[Key, int]) -> float | None:
    began = time.monotonic()
    while time.monotonic() - began < FINISH_WAIT_S:
        if len(_finished(state, sent)) >= len(sent):
            return time.monotonic()
        time.sleep(1)
    return None


def serve_killed(rig: Rig, rate: float, seconds: float, kills: int) -> Outcome:
    print(f"serve_kill9: {rate * seconds:,.0f} webhooks at {rate:,.0f}/s, {kills} kills", flush=True)
    fx = create_fixtures(rig.crm)
    hooks = webhooks(BASE_URL, fx, int(rate * seconds), rate)
    serve = Process([CLI, "serve", "--no-writer"], rig.tmp / "chaos-serve.log").start()
    writer = Process([CLI, "writer"], rig.tmp / "chaos-writer.log").start()
    restarts: list[float] = []
    try:
        wait_http(f"{BASE_URL}/readyz")
        killer = threading.Thread(
            target=_killer, args=([serve, writer], kills, seconds / (kills + 1), restarts)
        )
        killer.start()
        sent, gave_up = asyncio.run(_stream(hooks, rate))
        killer.join()
        finished_at = _wait_finished(rig.state, sent)
        outcome = _judge(rig, fx.run, sent, finished_at, restarts, serve.kills + writer.kills)
        # A webhook never answered 200 is the vendor's to give up on: lost all the same.
        c = outcome.counts
        outcome.counts = Counts(c.owed + len(gave_up), c.delivered, c.lost + len(gave_up), c.duplicated)
        outcome.figures["never_answered_200"] = len(gave_up)
        return outcome
    finally:
        serve.stop()
        writer.stop()


def _judge(
    rig: Rig, run: str, sent: dict[Key, int], finished_at: float | None, restarts: list[float], kills: int
) -> Outcome:
    engagements = [k for k in sent if k[0] == "marketing" and k[1].startswith(f"bench-{run}-")]
    counts = inbound_counts(sent, _finished(rig.state, sent), _activities(rig.crm, engagements))
    ended = restarts[-1] if restarts else time.monotonic()
    recover_s = round(finished_at - ended, 1) if finished_at is not None else None
    outcome = Outcome("serve_kill9", counts.owed, counts, {}, recover_s)
    resent = sum(1 for attempts in sent.values() if attempts > 1)
    outcome.figures = {"kills": kills, "webhooks_answered_200": len(sent), "sent_more_than_once": resent}
    return outcome
