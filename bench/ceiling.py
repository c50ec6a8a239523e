"""Ceilings over the very records the pipeline run delivered (best of several runs each):

consume_decode: raw confluent-kafka consume(n) + fastavro decode into ChangeEvents, nothing else.
decode_plan: the same, then what the runner does per batch before the network: one CRM lookup
(`fetch_lookups`) and `plan_event` per change into a null destination that only counts
deliveries. That is the pipeline's own CPU bound in one process.
"""

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import Message

from bench.rig import Rig
from bench.window import Window, read_window
from cdc_sync.events import ChangeEvent
from cdc_sync.outbound.contracts import load_contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.pipeline import build_routes, lookup_ids, plan_event
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import raw_message
from cdc_sync.store.crm import fetch_lookups

Batch = Callable[[list[ChangeEvent]], None]


def _timed_read(rig: Rig, window: Window, decoder: EnvelopeDecoder, after_decode: Batch) -> tuple[float, int]:
    """Seconds from the first consumed batch to the last one handled, and the changes decoded."""
    started, changes = 0.0, 0

    def each(messages: list[Message]) -> None:
        nonlocal started, changes
        started = started or time.perf_counter()
        events = [e for e in (decoder.decode(raw_message(m)) for m in messages) if e is not None]
        changes += len(events)
        after_decode(events)

    read_window(rig.settings.kafka_bootstrap, window, rig.config.consumer.poll_batch, each)
    return time.perf_counter() - started, changes


def _planner(rig: Rig, decoder: EnvelopeDecoder, deliveries: Counter[str]) -> Batch:
    routes, contracts = build_routes(rig.config), load_contracts(rig.config.contracts_dir)

    def check(event: ChangeEvent) -> int:
        return contracts.check(event, decoder.row_schema(event.schema_id))

    def plan(events: list[ChangeEvent]) -> None:
        contact_ids, tag_ids = lookup_ids(events, routes)
        lookups = fetch_lookups(rig.state, contact_ids, tag_ids)
        for event in events:
            for delivery in plan_event(event, routes, check, rig.config.authority, lookups).deliveries:
                deliveries[delivery.destination] += 1

    return plan


def _best(runs: int, once: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    return min((once() for _ in range(runs)), key=lambda run: run[0])


def ceilings(rig: Rig, window: Window, runs: int) -> dict[str, dict[str, Any]]:
    decoder = EnvelopeDecoder(SchemaRegistry(rig.settings.registry_url))
    _timed_read(rig, window, decoder, lambda events: None)  # registry schemas cached, pages warm
    consume = _best(runs, lambda: _timed_read(rig, window, decoder, lambda events: None))
    deliveries: Counter[str] = Counter()

    def planned() -> tuple[float, int]:
        deliveries.clear()
        return _timed_read(rig, window, decoder, _planner(rig, decoder, deliveries))

    plan = _best(runs, planned)
    return {
        "consume_decode": _figures(*consume, window, runs, rig.config.consumer.poll_batch),
        "decode_plan": {
            **_figures(*plan, window, runs, rig.config.consumer.poll_batch),
            "deliveries": dict(deliveries),
        },
    }


def _figures(seconds: float, changes: int, window: Window, runs: int, batch: int) -> dict[str, Any]:
    return {
        "changes": changes,
        "kafka_records": window.records,
        "seconds": round(seconds, 4),
        "changes_per_s": round(changes / seconds, 1) if seconds > 0 else None,
        "best_of": runs,
        "batch": batch,
    }
