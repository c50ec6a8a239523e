"""The receiver both sides of `make bench-peer` deliver to, in its own process.

`python -m bench.peer_receiver PORT`. POST /debezium takes Debezium Server's HTTP sink (one
envelope, or a JSON array of them when batched); POST /cdc-sync takes cdc-sync's webhook
destination (one event, or a list / {"events": [...]} should it batch). Per created contact it
keeps (row id, PostgreSQL commit time, receive time) in µs. The commit time is Debezium's
`source.ts_us` (else `ts_ms`), the commit timestamp of the transaction as pgoutput reports it:
the Debezium Server payload carries it, and cdc-sync's `occurred_at` is the same field (its
envelope decoder reads `source.ts_us`). GET /_tally/{side} and /_records/{side} read them out.
"""

import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

Record = tuple[int, int, int]  # row id, commit µs, receive µs
SIDES = ("debezium", "cdc-sync")


def debezium_changes(body: Any) -> Iterator[tuple[int, int]]:
    """(id, commit µs) of each contact insert in a Debezium Server request body."""
    for item in body if isinstance(body, list) else [body]:
        envelope = item.get("payload", item) if isinstance(item, dict) else {}
        if envelope.get("op") == "c":
            source = envelope["source"]
            yield int(envelope["after"]["id"]), int(source.get("ts_us") or source["ts_ms"] * 1000)


def webhook_changes(body: Any) -> Iterator[tuple[int, int]]:
    """(id, commit µs) of each `contacts.created` event in a cdc-sync webhook body."""
    events = body if isinstance(body, list) else body.get("events", [body])
    for event in events:
        if event.get("type") == "contacts.created":
            committed = datetime.fromisoformat(event["occurred_at"])
            yield int(event["key"]["id"]), round(committed.timestamp() * 1_000_000)


PARSERS = {"debezium": debezium_changes, "cdc-sync": webhook_changes}


class Tally:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.requests = 0
        self.unreadable = 0


def receive(side: str, tally: Tally) -> Any:
    parse = PARSERS[side]

    async def handler(request: web.Request) -> web.Response:
        received = time.time_ns() // 1000
        body = await request.read()
        tally.requests += 1
        try:
            tally.records.extend((row, commit, received) for row, commit in parse(orjson.loads(body)))
        except (ValueError, KeyError, TypeError, AttributeError):
            tally.unreadable += 1
        return web.Response(status=200)

    return handler


def app() -> web.Application:
    tallies = {side: Tally() for side in SIDES}

    async def tally(request: web.Request) -> web.Response:
        found = tallies[request.match_info["side"]]
        figures = {"requests": found.requests, "changes": len(found.records), "unreadable": found.unreadable}
        return web.json_response(figures)

    async def records(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(tallies[request.match_info["side"]].records))

    application = web.Application(client_max_size=64 * 1024 * 1024)
    for side in SIDES:
        application.router.add_post(f"/{side}", receive(side, tallies[side]))
    application.router.add_get("/_tally/{side}", tally)
    application.router.add_get("/_records/{side}", records)
    return application


if __name__ == "__main__":
    web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
