"""`reconcile`: compare the CRM with each vendor through the vendor's API, report, and correct.

    CRM contact ids (all or a sample, in the rollout) → fresh events → plan_fresh → expected ─┐
    vendor reader (every page, or key by key for a sample) → vendor records ───────────┴→ compare
    → report, metrics, audit (`reconcile.run`)
    --fix: fresh events for the affected rows → plan_fresh → Lane with DurableHooks (ledger,
           dead letters, alerts) → audit (`reconcile.fix`) → re-read → difference rate after
    push: the same delivery of current rows for named contacts (a widened rollout's newcomers)

A destination rolled out to a share of the contacts is compared for that share only: its
contacts alone are expected, and vendor records that match none of them are not counted as
extra (they may be contacts outside the share the vendor held before).

Database work runs in threads. A pass scheduled inside `cdc-sync run` still compares on the
event loop and paces its reads and fixes with limiters of its own, beside the runner's: vendor
429s are honoured, so nothing is lost, but set `interval_s` so passes stay rare.
"""

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.delivery.durable import DurableHooks
from cdc_sync.errors import ConfigError, DestinationBusy
from cdc_sync.mapping.normalize import sanitize_tags
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.observability import metrics
from cdc_sync.observability.notify import Notifier
from cdc_sync.outbound.assembly import build_lane
from cdc_sync.outbound.fresh import current_events, plan_fresh
from cdc_sync.outbound.pipeline import Route, build_routes
from cdc_sync.repair.readers import open_reader
from cdc_sync.repair.reconcile import (
    DestinationReport,
    FixSummary,
    FixTarget,
    Record,
    as_crm_state,
    compare,
    compare_record,
    fix_audit,
    fix_summary,
    fix_targets,
    index_vendor,
    not_reconcilable,
    sample_ids,
    summarize,
)
from cdc_sync.rules.rollout import WHOLE, contacts_in
from cdc_sync.store import crm_keys, destinations
from cdc_sync.store.audit import audit
from cdc_sync.store.ledger import LedgerWriter
from cdc_sync.store.operator_locks import destination_locks
from cdc_sync.vendors.plugin import Reconciliation, VendorReader
from cdc_sync.vendors.registry import destination_kind

CHUNK = 1000  # CRM contacts read and planned at a time

Progress = Callable[[str, int, int | None], None]
"""(stage, records just done, records in the stage when known)."""
Confirm = Callable[[DestinationReport, int], bool]
"""Whether to push corrections for this many records (asked only for more than one)."""


def _silent(stage: str, done: int, total: int | None) -> None:
    return None


def _approved(report: DestinationReport, records: int) -> bool:
    return True


@dataclass(frozen=True)
class ReconcileRequest:
    destinations: tuple[str, ...] = ()  # empty: every configured destination
    fix: bool = False
    sample: int | None = None
    actor: str = "operator"
    contacts: tuple[int, ...] = ()  # only these CRM contacts

    @property
    def keyed(self) -> int | None:
        """How many contacts are read key by key (a sample, or named ones: no extra-detection)."""
        return len(self.contacts) if self.contacts else self.sample


class _FixHooks(DurableHooks):
    """The usual durable hooks, also noting which entities did not get through."""

    def __init__(self, engine: Engine, ledger: LedgerWriter, notifier: Notifier) -> None:
        super().__init__(engine, ledger, notifier)
        self.failed: set[str] = set()
        self.held: set[str] = set()

    async def dead_letter(self, delivery: Delivery, outcome: Outcome) -> None:
        await super().dead_letter(delivery, outcome)
        self.failed.add(delivery.entity)

    async def hold(self, delivery: Delivery, reason: str) -> bool:
        held = await super().hold(delivery, reason)
        if held:
            self.held.add(delivery.entity)
        return held


@dataclass(frozen=True)
class _Compared:
    report: DestinationReport
    expected: dict[str, Record]
    tags: dict[str, int]  # the CRM's tags (name → id), when the destination gets contact_tags
    vocabulary: frozenset[str]  # those of them mapping may send


@dataclass
class Reconciler:
    engine: Engine
    config: AppConfig
    topic_prefix: str
    progress: Progress = _silent
    confirm: Confirm = _approved
    rng: random.Random = field(default_factory=random.Random)
    transport: httpx.AsyncBaseTransport | None = None  # tests: vendors behind httpx.MockTransport

    def __post_init__(self) -> None:
        self._routes = build_routes(self.config)

    async def run(self, request: ReconcileRequest) -> list[DestinationReport]:
        names = request.destinations or tuple(self.config.destinations)
        self.config.require_destinations(names)
        ids = list(request.contacts) or sample_ids(
            await asyncio.to_thread(crm_keys.contact_ids, self.engine), request.sample, self.rng
        )
        return [await self.destination(name, ids, request) for name in names]

    async def destination(
        self, name: str, ids: Sequence[int], request: ReconcileRequest
    ) -> DestinationReport:
        reader = open_reader(name, self.config.destinations[name], self.transport)
        if reader is None:
            return not_reconcilable(name, self.config.destinations[name].kind)
        shares = await asyncio.to_thread(destinations.rollout_shares, self.engine, self.config.destinations)
        try:
            compared = await self._compare(name, ids, request.keyed, reader, shares[name])
            report = (
                await self._fix(name, compared, reader, request.actor) if request.fix else compared.report
            )
        finally:
            await reader.aclose()
        _record_metrics(report)
        await asyncio.to_thread(self._audit_run, report, request.actor)
        return report

    async def _compare(
        self, name: str, ids: Sequence[int], sample: int | None, reader: VendorReader, share: float
    ) -> _Compared:
        kind, tables = self.config.destinations[name].kind, self.config.destinations[name].tables
        ids = contacts_in(ids, share)
        expected = await self._expected(name, ids)
        tags = (
            await asyncio.to_thread(crm_keys.tag_ids, self.engine) if crm_keys.CONTACT_TAGS in tables else {}
        )
        vocabulary = frozenset(sanitize_tags(tags).kept)
        if sample is None:
            vendor, duplicates = await self._read_all(name, reader, vocabulary, len(expected))
            if share < WHOLE:
                vendor = {key: record for key, record in vendor.items() if key in expected}
        else:
            vendor, duplicates = await self._read_each(name, reader, vocabulary, expected), []
        # Pure but long for a big CRM: off the event loop, which delivers beside a scheduled pass.
        report = await asyncio.to_thread(_summarized, name, kind, expected, vendor, duplicates, ids, sample)
        return _Compared(report, expected, tags, vocabulary)

    async def _expected(self, name: str, ids: Sequence[int]) -> dict[str, Record]:
        deliveries: list[Delivery] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            deliveries += await asyncio.to_thread(self._planned, name, chunk)
            self.progress(f"{name}: CRM contacts", len(chunk), len(ids))
        return await asyncio.to_thread(self._reconciliation(name).expected, deliveries)

    def _planned(
        self, name: str, contacts: Sequence[int], gone_tags: Sequence[dict[str, Any]] = ()
    ) -> list[Delivery]:
        """What delivery would send `name` for these contacts' rows as they are now; keys of
        contact_tags rows no longer in the CRM (`gone_tags`) become deletes (untag)."""
        keys = crm_keys.row_keys(self.engine, contacts)
        keys[crm_keys.CONTACT_TAGS] = [*keys[crm_keys.CONTACT_TAGS], *gone_tags]
        events = [
            as_crm_state(event)
            for table in self.config.destinations[name].tables
            if keys.get(table)
            for event in current_events(self.engine, table, keys[table], self.topic_prefix)
        ]
        plans = plan_fresh(self.engine, events, self._routes_to(name), self.config.authority)
        return [delivery for plan in plans for delivery in plan.deliveries]

    def _reconciliation(self, name: str) -> Reconciliation:
        kind = self.config.destinations[name].kind
        found = destination_kind(kind).reconciliation
        if found is None:  # a vendor with a reader also says how to compare what it reads
            raise ConfigError(f"destination {name}: {kind} records cannot be compared")
        return found

    def _routes_to(self, name: str) -> dict[str, list[Route]]:
        only = {table: [r for r in routes if r.destination == name] for table, routes in self._routes.items()}
        return {table: routes for table, routes in only.items() if routes}

    async def _read_all(
        self, name: str, reader: VendorReader, vocabulary: frozenset[str], hint: int
    ) -> tuple[dict[str, Record], list[Record]]:
        kind, parse = self.config.destinations[name].kind, self._reconciliation(name).parse
        records: list[Record | None] = []
        async for page in reader.pages():
            records += [parse(item, vocabulary) for item in page.items]
            self.progress(f"{name}: reading {kind}", len(page.items), page.total or hint)
        return index_vendor(records)

    async def _read_each(
        self, name: str, reader: VendorReader, vocabulary: frozenset[str], keys: Iterable[str]
    ) -> dict[str, Record]:
        config, wanted = self.config.destinations[name], list(keys)
        parse = self._reconciliation(name).parse
        slots = asyncio.Semaphore(config.max_concurrency)  # round trips overlap; the limiter paces

        async def look_up(key: str) -> tuple[str, Record | None]:
            async with slots:
                item = await reader.one(key)
            self.progress(f"{name}: looking up {config.kind} records", 1, len(wanted))
            return key, parse(item, vocabulary) if item is not None else None

        found = await asyncio.gather(*(look_up(key) for key in wanted))
        return {key: record for key, record in found if record is not None}

    async def _fix(
        self, name: str, compared: _Compared, reader: VendorReader, actor: str
    ) -> DestinationReport:
        report, targets = compared.report, fix_targets(compared.report.differences)
        if not targets:
            return report.model_copy(update={"fix": fix_summary(report, [], {})})
        if len(targets) > 1 and not self.confirm(report, len(targets)):
            return report.model_copy(update={"fix": FixSummary(confirmed=False, note="not confirmed")})
        try:
            with destination_locks(self.engine, [name]):
                hooks = await self._deliver(name, await self._fix_deliveries(name, targets, compared.tags))
        except DestinationBusy as exc:  # an operator is replaying to it: the next pass fixes
            return report.model_copy(update={"fix": FixSummary(confirmed=False, note=str(exc))})
        done = [t for t in targets if not set(t.comparison.entities) & (hooks.failed | hooks.held)]
        await asyncio.to_thread(self._audit_fixes, name, done, actor)
        keys = [target.comparison.key for target in done]
        vendor = await self._read_each(name, reader, compared.vocabulary, keys)
        rechecked = {key: compare_record(compared.expected[key], vendor.get(key)) for key in keys}
        summary = fix_summary(report, targets, rechecked, hooks.failed, hooks.held)
        return report.model_copy(update={"fix": summary})

    async def push(self, name: str, contacts: Sequence[int]) -> int:
        """Deliver the current rows of `contacts` to `name`, a chunk at a time (ledger, dead
        letters and holding as in live delivery); returns how many objects did not get through."""
        failed = 0
        with destination_locks(self.engine, [name]):
            for start in range(0, len(contacts), CHUNK):
                chunk = contacts[start : start + CHUNK]
                planned = await asyncio.to_thread(self._planned, name, chunk)
                hooks = await self._deliver(name, planned, lambda: None)
                failed += len(hooks.failed | hooks.held)
                self.progress(f"{name}: pushing contacts", len(chunk), len(contacts))
        return failed

    async def _fix_deliveries(
        self, name: str, targets: Sequence[FixTarget], tags: Mapping[str, int]
    ) -> list[Delivery]:
        """Fresh deliveries for the targets' rows; stale tags as deletes, opt-outs left standing."""
        deliveries: list[Delivery] = []
        for start in range(0, len(targets), CHUNK):
            chunk = targets[start : start + CHUNK]
            contacts = sorted({contact for target in chunk for contact in target.comparison.contacts})
            stale = [
                {"contact_id": contact, "tag_id": tags[tag]}
                for target in chunk
                for contact in target.comparison.contacts
                for tag in target.stale_tags
                if tag in tags
            ]
            deliveries += await asyncio.to_thread(self._planned, name, contacts, stale)
        kept = {entity for target in targets if target.consent_kept for entity in target.comparison.entities}
        return [d for d in deliveries if not (d.entity in kept and d.table == crm_keys.SUBSCRIPTIONS)]

    async def _deliver(
        self, name: str, deliveries: Sequence[Delivery], one_done: Callable[[], None] | None = None
    ) -> _FixHooks:
        config = self.config.destinations[name]
        ledger, notifier = LedgerWriter(self.engine), Notifier(self.config.notifications)
        hooks = _FixHooks(self.engine, ledger, notifier)
        lane = build_lane(name, config, hooks, self.transport)
        lane.paused = (await asyncio.to_thread(destinations.states, self.engine)).get(name) == "paused"
        try:
            for delivery in deliveries:
                lane.submit(
                    delivery,
                    one_done or (lambda: self.progress(f"{name}: pushing corrections", 1, len(deliveries))),
                )
            await lane.drain()
        finally:
            lane.close()  # cancelled at shutdown: finish the attempt under way, start no other
            await lane.drain()
            await asyncio.to_thread(ledger.flush)
            await lane.destination.aclose()
            await notifier.aclose()
        return hooks

    def _audit_fixes(self, name: str, targets: Sequence[FixTarget], actor: str) -> None:
        for target in targets:
            comparison = target.comparison
            before, after = fix_audit(comparison, target.consent_kept)
            details = {"destination": name, "result": comparison.result, "key": comparison.key}
            for entity in comparison.entities:
                audit(self.engine, actor, "reconcile.fix", entity, before, after, details)

    def _audit_run(self, report: DestinationReport, actor: str) -> None:
        if not report.reconcilable:
            return
        details = {
            "kind": report.kind,
            "sample": report.sample,
            "compared": report.compared,
            "counts": report.counts,
            "not_expected": report.not_expected,
            "difference_rate": report.difference_rate,
            "fixed": report.fix.fixed if report.fix else 0,
            "fix": report.fix.model_dump(mode="json") if report.fix else None,
        }
        audit(self.engine, actor, "reconcile.run", f"destination:{report.destination}", details=details)


def _summarized(
    name: str,
    kind: str,
    expected: dict[str, Record],
    vendor: dict[str, Record],
    duplicates: list[Record],
    ids: Sequence[int],
    sample: int | None,
) -> DestinationReport:
    covered = {contact for record in expected.values() for contact in record.contacts}
    comparisons = compare(expected, vendor, duplicates)
    return summarize(name, kind, comparisons, len(set(ids) - covered), sample)


def _record_metrics(report: DestinationReport) -> None:
    """Records found as compared; the rate as it stands now (after a fix, what the fix left)."""
    after_fix = report.fix.difference_rate_after if report.fix is not None else None
    rate = report.difference_rate if after_fix is None else after_fix
    metrics.RECONCILE_DIFFERENCE_RATIO.labels(report.destination).set(rate)
    for result, count in report.counts.items():
        metrics.RECONCILE_RECORDS.labels(report.destination, result).inc(count)
