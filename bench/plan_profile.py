"""CPU per event on the outbound path, without any service: decode, plan, and what planning costs.

    .venv/bin/python -m bench.plan_profile [events]

Decodes the golden contact records (tests/fixtures/golden/, captured from the stack) with their
stored writer schemas, plans them for the destinations of config/cdc-sync.toml, and prints µs
per event for decode and plan, per normalizer, and for building one `Delivery`. Every planned
event gets its own email and phone number, as a stream of different contacts would: the same
value planned again would only measure the caches. Last, the runner's own batch handling works
through a poll's worth of such records while a `LoopWatch` reports the longest loop stall.
"""

import asyncio
import base64
import io
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from pathlib import Path
from typing import Any, cast

import fastavro
import uvloop
from sqlalchemy import Engine

from cdc_sync.config import AppConfig, load_config
from cdc_sync.delivery.sender import Done, Lane
from cdc_sync.events import ChangeEvent, Row
from cdc_sync.mapping import normalize
from cdc_sync.mapping.enums import EnumKind, map_enum
from cdc_sync.model.delivery import Delivery, VendorRequest, delivery_for, idempotency_key
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.change_source import ChangeSource
from cdc_sync.outbound.contracts import load_contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage, split_wire_format
from cdc_sync.outbound.loop_watch import SLICE_S, LoopWatch, settle_process
from cdc_sync.outbound.pipeline import EventPlan, build_routes, plan_event
from cdc_sync.outbound.runner import OutboundRunner, RunnerParts
from cdc_sync.store.ledger import LedgerWriter

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
CONTACT_CHANGES = ("00-contacts-create", "01-contacts-update", "02-contacts-delete")


class GoldenSchemas:
    """The writer schemas stored beside the golden records, served by id like the registry."""

    def __init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        for path in GOLDEN.glob("*.json"):
            for schema_id, schema in json.loads(path.read_text())["schemas"].items():
                self.by_id[int(schema_id)] = schema

    def schema(self, schema_id: int) -> dict[str, Any]:
        return self.by_id[schema_id]


def golden(name: str) -> RawMessage:
    document = json.loads((GOLDEN / f"{name}.json").read_text())
    return RawMessage(
        topic=document["topic"],
        partition=document["partition"],
        offset=document["offset"],
        key=base64.b64decode(document["key"]),
        value=base64.b64decode(document["value"]),
    )


# `cdc-sync run` runs on uvloop.
LOOPS: dict[str, Callable[[Coroutine[Any, Any, tuple[float, float]]], tuple[float, float]]] = {
    "asyncio": asyncio.run,
    "uvloop": uvloop.run,
}
REPEATS = 5  # best of: other work on the machine only ever adds time
REMEMBERING = (
    normalize.check_email,
    normalize.normalize_phone,
    normalize.normalize_country,
    normalize.normalize_locale,
    normalize.normalize_timezone,
)


def forget_normalized() -> None:
    """Empty the normalizers' caches: values a stream of new contacts has never shown before."""
    for normalizer in REMEMBERING:
        normalizer.cache_clear()


def us_per_item(work: Callable[[Any], object], items: Iterable[Any], cold: bool = False) -> float:
    """CPU µs per item, best of `REPEATS` passes; `cold` passes start with empty caches."""
    listed, best = list(items), float("inf")
    for _ in range(REPEATS):
        if cold:
            forget_normalized()
        started = time.process_time()
        for item in listed:
            work(item)
        best = min(best, time.process_time() - started)
    return best / len(listed) * 1e6


def us_per_call(work: Callable[[], object], calls: int) -> float:
    return us_per_item(lambda _: work(), range(calls))


def _distinct(image: Row | None, n: int) -> Row | None:
    if image is None:
        return None
    return {**image, "email": f"golden-{n}@example.com", "phone": f"+49301{n % 10_000_000:07d}"}


def as_contact(event: ChangeEvent, n: int) -> ChangeEvent:
    """The golden change as if it were contact `n`'s: its own email and phone."""
    return event.model_copy(update={"before": _distinct(event.before, n), "after": _distinct(event.after, n)})


def profile_decode(decoder: EnvelopeDecoder, raws: list[RawMessage], events: int) -> dict[str, float]:
    for raw in raws:
        decoder.decode(raw)  # parses and caches the writer schemas
    return {
        name: us_per_call(partial(decoder.decode, raw), events)
        for name, raw in zip(CONTACT_CHANGES, raws, strict=True)
    }


def planner(decoder: EnvelopeDecoder) -> Callable[[ChangeEvent], EventPlan]:
    """`plan_event` as `cdc-sync run` calls it, for the destinations of config/cdc-sync.toml."""
    config = load_config(ROOT / "config" / "cdc-sync.toml")
    routes = build_routes(config)
    contracts = load_contracts(ROOT / config.contracts_dir)

    def check(event: ChangeEvent) -> int:
        return contracts.check(event, decoder.row_schema(event.schema_id))

    return lambda event: plan_event(event, routes, check, config.authority, Lookups())


def profile_plan(
    plan: Callable[[ChangeEvent], EventPlan], decoded: list[ChangeEvent], events: int
) -> dict[str, float]:
    figures = {}
    for name, event in zip(CONTACT_CHANGES, decoded, strict=True):
        contacts = [as_contact(event, n) for n in range(events)]
        figures[f"{name}, new contact each time"] = us_per_item(plan, contacts, cold=True)
        figures[f"{name}, same change again"] = us_per_call(partial(plan, event), events)
    # Each contact's create, update and delete in turn: the update and the delete meet the
    # address and number its create saw.
    sequences = [as_contact(event, n) for n in range(events) for event in decoded]
    figures["create → update → delete of each contact"] = us_per_item(plan, sequences, cold=True)
    return figures


def profile_normalizers(row: Row, events: int) -> dict[str, float]:
    """Per call: computed (no cache), then remembered by value."""
    calls: dict[str, Callable[[], object]] = {
        "email": lambda: normalize.check_email(row["email"]),
        "phone": lambda: normalize.normalize_phone(row["phone"], "DE"),
        "country": lambda: normalize.normalize_country(row["country"]),
        "locale": lambda: normalize.normalize_locale(row["locale"]),
        "timezone": lambda: normalize.normalize_timezone("Europe/Berlin"),
    }
    computed = {
        "email": lambda: normalize.check_email.__wrapped__(row["email"]),
        "phone": lambda: normalize.normalize_phone.__wrapped__(row["phone"], "DE"),
        "country": lambda: normalize.normalize_country.__wrapped__(row["country"]),
        "locale": lambda: normalize.normalize_locale.__wrapped__(row["locale"]),
        "timezone": lambda: normalize.normalize_timezone.__wrapped__("Europe/Berlin"),
    }
    figures = {f"{name} (computed)": us_per_call(call, events) for name, call in computed.items()}
    figures |= {f"{name} (remembered)": us_per_call(call, events) for name, call in calls.items()}
    figures["lifecycle stage"] = us_per_call(
        lambda: map_enum(EnumKind.LIFECYCLE_STAGE, row["lifecycle_stage"]), events
    )
    return figures


def profile_delivery(event: ChangeEvent, events: int) -> dict[str, float]:
    """What one `Delivery` costs to build (model/delivery.py); the mappers build one per request."""
    request = VendorRequest(method="PUT", path="/3.0/lists/x/members/y", body={"email_address": "a@b.cd"})
    fields: dict[str, Any] = {
        "destination": "marketing",
        "entity": "contact:4",
        "table": event.table,
        "operation": "member.upsert",
        "request": request,
        "idempotency_key": "0" * 40,
        "source": event.source,
    }
    return {
        "idempotency_key (json.dumps + sha256)": us_per_call(
            lambda: idempotency_key(event, "marketing", "member.upsert"), events
        ),
        "Delivery(...) validated": us_per_call(lambda: Delivery(**fields), events),
        "Delivery.model_construct(...)": us_per_call(lambda: Delivery.model_construct(**fields), events),
        "VendorRequest(...)": us_per_call(
            lambda: VendorRequest(method="PUT", path="/p", body={"email_address": "a@b.cd"}), events
        ),
        "delivery_for (key + Delivery)": us_per_call(
            lambda: delivery_for(event, "marketing", "contact:4", "member.upsert", request), events
        ),
    }


class InstantLane:
    """A destination that takes every delivery as done at once: only decode and plan remain."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, delivery: Delivery, done: Done) -> None:
        self.submitted += 1
        done()


def contact_records(raw: RawMessage, schemas: GoldenSchemas, count: int) -> list[RawMessage]:
    """The golden record re-encoded for `count` different contacts, at consecutive offsets."""
    schema_id, payload = split_wire_format(raw.value or b"")
    schema = fastavro.parse_schema(schemas.schema(schema_id))
    envelope = cast(dict[str, Any], fastavro.schemaless_reader(io.BytesIO(payload), schema))
    records = []
    for n in range(count):
        out = io.BytesIO()
        out.write(b"\0" + schema_id.to_bytes(4, "big"))  # Confluent wire format
        changed = {
            **envelope,
            "before": _distinct(envelope["before"], n),
            "after": _distinct(envelope["after"], n),
        }
        fastavro.schemaless_writer(out, schema, changed)
        records.append(RawMessage(raw.topic, raw.partition, n, raw.key, out.getvalue()))
    return records


def runner_parts(config: AppConfig, decoder: EnvelopeDecoder) -> RunnerParts:
    """What `cdc-sync run` assembles, minus Kafka, the state store and the vendors."""
    lanes = {name: InstantLane() for name in config.destinations}
    return RunnerParts(
        source=cast(ChangeSource, None),  # no outage here: nothing to seek back
        topic_prefix="crm",
        config=config,
        engine=cast(Engine, None),  # contact changes need no lookups
        decoder=decoder,
        contracts=load_contracts(ROOT / config.contracts_dir),
        routes=build_routes(config),
        lanes=cast(dict[str, Lane], lanes),
        ledger=cast(LedgerWriter, None),
    )


async def handle_batch(parts: RunnerParts, batch: list[RawMessage], slice_s: float) -> tuple[float, float]:
    """(longest loop stall, wall seconds) of the runner handling one poll's batch."""
    runner, watch = OutboundRunner(parts, slice_s), LoopWatch()
    watching = asyncio.create_task(watch.run())
    await asyncio.sleep(0.01)
    watch.longest_s = 0.0
    started = time.perf_counter()
    await runner._handle(batch)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.005)  # the tick that was due during the last slice reports it
    watching.cancel()
    return watch.longest_s, elapsed


def profile_stalls(schemas: GoldenSchemas, count: int) -> dict[str, float]:
    """A poll's batch of new contacts' changes (create, update, delete in turn) through `_handle`."""
    config = load_config(ROOT / "config" / "cdc-sync.toml")
    decoder = EnvelopeDecoder(schemas)
    normalize.load_reference_data()  # as `OutboundRunner.run` does before it consumes
    settle_process()
    per_change = [contact_records(golden(name), schemas, count) for name in CONTACT_CHANGES]
    raws = [record for triple in zip(*per_change, strict=True) for record in triple][:count]
    figures = {}
    slicing = (("in one go", math.inf), (f"in {SLICE_S * 1e3:.0f} ms slices", SLICE_S))
    for (loop, run), (label, slice_s) in itertools.product(LOOPS.items(), slicing):
        forget_normalized()
        longest, elapsed = run(handle_batch(runner_parts(config, decoder), raws, slice_s))
        figures[f"{loop}, {count} changes {label}: longest stall ms"] = longest * 1e3
        figures[f"{loop}, {count} changes {label}: wall ms"] = elapsed * 1e3
    return figures


def report(title: str, figures: dict[str, float]) -> None:
    print(title)
    for name, micros in figures.items():
        print(f"  {name:<56} {micros:8.1f} µs")


def main(events: int) -> None:
    decoder = EnvelopeDecoder(GoldenSchemas())
    raws = [golden(name) for name in CONTACT_CHANGES]
    decoded = [event for event in map(decoder.decode, raws) if event is not None]
    report("decode, per event", profile_decode(decoder, raws, events))
    report("plan_event for config/cdc-sync.toml, per event", profile_plan(planner(decoder), decoded, events))
    report("normalizers, per call", profile_normalizers(decoded[1].after or {}, events))
    report("model/delivery.py, per delivery", profile_delivery(decoded[1], events))
    print("the runner's batch handling (OutboundRunner._handle), delivery excluded")
    for name, value in profile_stalls(GoldenSchemas(), 500).items():
        print(f"  {name:<56} {value:8.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
