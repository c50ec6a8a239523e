"""`dlq show|replay|discard`: look into dead letters, send them again, or give them up (audited).

How each kind of letter replays:

- delivery: a vendor refused the request. The same `Delivery` (same idempotency key) goes through
  a `Lane` with the normal durable hooks: ledger, alerts, and a new dead letter if the vendor
  refuses it again (the old letter is then `replayed`, pointing at the new one).
- event: the pipeline rejected the change (a mapper, or its contract). It is planned again from
  the stored payload *without* the contract check: the writer's schema is not in the letter, so
  the contract cannot be re-checked offline. Replaying one says the operator fixed the contract or
  accepts the event as it is. Rejected again, it stays open (no duplicate letter).
- record: a poison record, kept whole (bytes, headers, schema id). It is decoded again (say the
  missing schema was registered meanwhile), checked against its contract and planned like a live
  change. Still undecodable, it stays open with the new reason.
- undecodable: a letter written before records were kept whole: there is nothing to replay from;
  the record is re-read by rewinding the consumer.

`--fresh` plans from the CRM row as it is now instead (new idempotency keys: see `fresh.py`).

Letters replay one at a time, oldest first. While one stays open, later letters of the same
entity (and destination) in the same run are skipped, so a later change never overtakes an
earlier one. A destination that keeps failing halts the replay (as in `destinations resume`)
instead of pausing the live service; letters for a paused destination are skipped, since they
would overtake its held queue.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Column, Engine

from cdc_sync.config import AppConfig
from cdc_sync.delivery.durable import HaltingHooks, ReplayHalted
from cdc_sync.delivery.sender import Lane
from cdc_sync.endpoints import HttpEndpoint
from cdc_sync.errors import CdcSyncError, ConfigError, RejectedEvent, StackUnavailable
from cdc_sync.events import ChangeEvent
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.observability.notify import Notifier
from cdc_sync.outbound.assembly import build_lane
from cdc_sync.outbound.fresh import crm_table, current_events, no_contract_check, plan_fresh
from cdc_sync.outbound.pipeline import EventPlan, build_routes, lookup_ids, plan_event
from cdc_sync.repair.dead_letter_rules import (
    KeyColumn,
    LetterResult,
    ReplayKind,
    ReplayOutcome,
    ReplayReport,
    attempt_keys,
    blocked_by,
    letter_destinations,
    replay_kind,
    replay_order,
    replay_problem,
    replay_record,
    routes_for,
    row_key,
)
from cdc_sync.repair.stored_records import StoredRecords
from cdc_sync.store import destinations
from cdc_sync.store.audit import audit, audit_in
from cdc_sync.store.crm import fetch_lookups
from cdc_sync.store.dead_letters import (
    LetterStatus,
    StoredLetter,
    get_letter,
    letter_attempts,
    letter_history,
    mark_letter,
    older_open_letters,
    open_letters,
)
from cdc_sync.store.ledger import LedgerWriter, acknowledged_later
from cdc_sync.store.operator_locks import destination_locks
from cdc_sync.vendors.registry import REMOVALS


@dataclass(frozen=True)
class ReplayRequest:
    ids: tuple[int, ...] = ()
    every_open: bool = False
    destination: str | None = None
    fresh: bool = False


@dataclass(frozen=True)
class ReplayContext:
    engine: Engine
    config: AppConfig
    actor: str
    topic_prefix: str
    registry: HttpEndpoint


@dataclass(frozen=True)
class LetterDetails:
    letter: StoredLetter
    kind: ReplayKind
    attempts: list[dict[str, Any]]
    history: list[dict[str, Any]]


def letter_details(engine: Engine, letter_id: int) -> LetterDetails:
    letter = get_letter(engine, letter_id)
    history = letter_history(engine, letter)
    attempts = letter_attempts(engine, attempt_keys(letter, history))
    return LetterDetails(letter, replay_kind(letter), attempts, history)


def select_letters(ctx: ReplayContext, request: ReplayRequest) -> list[StoredLetter]:
    """The letters to replay, oldest first; named letters that cannot replay are an error."""
    ctx.config.require_destinations([request.destination] if request.destination else [])
    if request.every_open:
        return open_letters(ctx.engine, request.destination)
    letters = [get_letter(ctx.engine, letter_id) for letter_id in dict.fromkeys(request.ids)]
    problems = [replay_problem(letter, ctx.config.destinations, request.destination) for letter in letters]
    problems += [_waiting(ctx.engine, letter, request.ids) for letter in letters]
    if any(problems):
        raise CdcSyncError("; ".join(problem for problem in problems if problem))
    return letters


def _waiting(engine: Engine, letter: StoredLetter, chosen: Sequence[int]) -> str | None:
    """Per-key order: an older open letter of the same object goes first, or in the same run."""
    older = [found for found in older_open_letters(engine, letter) if found not in chosen]
    if not older:
        return None
    ids = " ".join(map(str, older))
    return (
        f"dead letter {letter.id} of {letter.entity} waits for older open letter(s) {ids}: "
        f"replay them together (`cdc-sync dlq replay {ids} {letter.id}`) or discard them first"
    )


async def replay(
    ctx: ReplayContext,
    request: ReplayRequest,
    letters: Sequence[StoredLetter],
    progress: Callable[[int], None] = lambda _: None,
) -> ReplayReport:
    session = _Session(ctx, request.fresh)
    results: list[LetterResult] = []
    try:
        with destination_locks(ctx.engine, letter_destinations(letters, ctx.config.destinations)):
            for letter in replay_order(letters):
                results.append(await session.replay(letter, results))
                progress(1)
                if results[-1].outcome == "halted":
                    break
    finally:
        await session.aclose()
    report = ReplayReport(tuple(results), next((r.reason for r in results if r.outcome == "halted"), None))
    if request.every_open:
        summary = {**report.counts(), "destination": request.destination, "fresh": request.fresh}
        audit(
            ctx.engine, ctx.actor, "dlq.replay_all", "dlq", None, None, {**summary, "halted": report.halted}
        )
    return report


def discard(engine: Engine, letter_id: int, reason: str, actor: str) -> StoredLetter:
    if not reason.strip():
        raise ConfigError("discarding a dead letter needs a reason")
    letter = get_letter(engine, letter_id)
    if letter.status != "open":
        raise CdcSyncError(f"dead letter {letter_id} is already {letter.status}")
    with engine.begin() as conn:
        if not mark_letter(conn, letter_id, "discarded", actor, {"action": "discard", "reason": reason}):
            raise CdcSyncError(f"dead letter {letter_id} was resolved by someone else meanwhile")
        details = {"letter": letter_id, "reason": reason, "destination": letter.destination}
        audit_in(
            conn,
            actor,
            "dlq.discard",
            letter.audit_object,
            {"status": "open"},
            {"status": "discarded"},
            details,
        )
    return get_letter(engine, letter_id)


class _LetterHooks(HaltingHooks):
    """Halting hooks that also note the id of each letter a refusal writes."""

    def __init__(self, engine: Engine, ledger: LedgerWriter, notifier: Notifier) -> None:
        super().__init__(engine, ledger, notifier, "the replay stopped and the letter stays open")
        self.new_letters: list[int] = []

    async def dead_letter(self, delivery: Delivery, outcome: Outcome) -> None:
        self.new_letters.append(await self.write_letter(delivery, outcome))


@dataclass(frozen=True)
class _Planned:
    deliveries: tuple[Delivery, ...] = ()
    rejection: str | None = None


def _planned(plan: EventPlan) -> _Planned:
    return _Planned(tuple(plan.deliveries), "; ".join(r.reason for r in plan.rejections) or None)


class _Session:
    """One replay run: the routes, hooks and lanes every letter of the run goes through."""

    def __init__(self, ctx: ReplayContext, fresh: bool) -> None:
        self._ctx, self._fresh = ctx, fresh
        self._routes = build_routes(ctx.config)
        self._ledger = LedgerWriter(ctx.engine)
        self._notifier = Notifier(ctx.config.notifications)
        self._hooks = _LetterHooks(ctx.engine, self._ledger, self._notifier)
        self._lanes: dict[str, Lane] = {}
        self._records = StoredRecords(ctx.registry, ctx.config.contracts_dir)

    async def replay(self, letter: StoredLetter, earlier: Sequence[LetterResult]) -> LetterResult:
        planned = self._prepare(letter, earlier)
        if isinstance(planned, str):
            return _result(letter, "skipped", reason=planned)
        if planned.rejection is not None:
            result = _result(letter, "rejected", reason=planned.rejection)
        else:
            result = await self._deliver(letter, planned.deliveries)
        self._record(letter, result)
        return result

    def _prepare(self, letter: StoredLetter, earlier: Sequence[LetterResult]) -> _Planned | str:
        """The letter's plan, or why it is skipped."""
        problem = replay_problem(letter, self._ctx.config.destinations, None)
        problem = problem or self._blocked(letter, earlier)
        if problem is not None:
            return problem
        try:
            planned = self._plan(letter)
        except CdcSyncError as exc:
            return str(exc)
        return self._paused(planned.deliveries) or self._overtaken(letter, planned.deliveries) or planned

    def _overtaken(self, letter: StoredLetter, deliveries: Sequence[Delivery]) -> str | None:
        """The stale payload must not undo a later change the vendor already has."""
        if self._fresh:
            return None
        engine = self._ctx.engine
        later = [d for d in deliveries if acknowledged_later(engine, d, {d.operation, *REMOVALS})]
        if not later:
            return None
        what = ", ".join(f"{d.operation} to {d.destination}" for d in later)
        return f"a later change of {letter.entity} was delivered ({what}): replay with --fresh"

    def _blocked(self, letter: StoredLetter, earlier: Sequence[LetterResult]) -> str | None:
        blocker = blocked_by(letter, earlier)
        if blocker is None:
            return None
        return f"dead letter {blocker} of {letter.entity} is still open; it goes first"

    def _plan(self, letter: StoredLetter) -> _Planned:
        if replay_kind(letter) == "record":
            return self._plan_record(letter)
        engine, authority = self._ctx.engine, self._ctx.config.authority
        table = str(letter.table)
        routes = routes_for(self._routes, table, letter.destination)
        try:
            if self._fresh:
                events = current_events(engine, table, [self._key(letter)], self._ctx.topic_prefix)
                return _planned(plan_fresh(engine, events, routes, authority)[0])
            if replay_kind(letter) == "delivery":
                return _Planned((Delivery.model_validate(letter.payload),))
            event = ChangeEvent.model_validate(letter.payload)
        except ValidationError as exc:
            raise CdcSyncError(f"dead letter {letter.id} has a malformed payload: {exc}") from exc
        lookups = fetch_lookups(engine, *lookup_ids([event], routes))
        return _planned(plan_event(event, routes, no_contract_check, authority, lookups))

    def _plan_record(self, letter: StoredLetter) -> _Planned:
        try:
            event = self._records.decode(letter.payload)
        except RejectedEvent as exc:
            return _Planned(rejection=f"still undecodable: {exc}")
        except StackUnavailable as exc:
            raise CdcSyncError(f"dead letter {letter.id} cannot be decoded now: {exc}") from exc
        if event is None:
            return _Planned(rejection="the record is a tombstone, which carries no change: discard it")
        routes = routes_for(self._routes, event.table, letter.destination)
        engine, authority = self._ctx.engine, self._ctx.config.authority
        if self._fresh:
            events = current_events(engine, event.table, [event.key], self._ctx.topic_prefix)
            return _planned(plan_fresh(engine, events, routes, authority)[0])
        lookups = fetch_lookups(engine, *lookup_ids([event], routes))
        return _planned(plan_event(event, routes, self._records.check_contract, authority, lookups))

    def _key(self, letter: StoredLetter) -> dict[str, Any]:
        if replay_kind(letter) == "event":
            return dict(letter.payload["key"])
        # A delivery carries no row key; its entity names the row (contact:42 → id 42).
        try:
            return row_key(str(letter.entity), key_columns(self._ctx.engine, str(letter.table)))
        except CdcSyncError as exc:
            raise CdcSyncError(f"dead letter {letter.id}: {exc}; replay it without --fresh") from None

    def _paused(self, deliveries: Sequence[Delivery]) -> str | None:
        states = destinations.states(self._ctx.engine)
        paused = sorted({d.destination for d in deliveries if states.get(d.destination) == "paused"})
        if not paused:
            return None
        return f"{', '.join(paused)} paused: resume it first (`cdc-sync destinations resume`)"

    async def _deliver(self, letter: StoredLetter, deliveries: tuple[Delivery, ...]) -> LetterResult:
        before = len(self._hooks.new_letters)
        try:
            for delivery in deliveries:
                await self._lane(delivery.destination).deliver(delivery)
        except ReplayHalted as exc:
            return _result(letter, "halted", reason=str(exc), sent=deliveries)
        finally:
            self._ledger.flush()
        new_letters = tuple(self._hooks.new_letters[before:])
        if not new_letters:
            return _result(letter, "replayed", "replayed", sent=deliveries)
        refused = len(new_letters)
        reason = f"refused again: dead letter {', '.join(map(str, new_letters))}"
        return _result(letter, "failed_again", "replayed", reason, deliveries, refused, new_letters)

    def _lane(self, name: str) -> Lane:
        if name not in self._lanes:
            config = self._ctx.config.destinations[name]
            self._lanes[name] = build_lane(name, config, self._hooks)
        return self._lanes[name]

    def _record(self, letter: StoredLetter, result: LetterResult) -> None:
        record = replay_record(result, self._fresh)
        before = {"status": "open", "reason": letter.reason}
        after = {"status": result.status, "delivered": result.delivered}
        with self._ctx.engine.begin() as conn:
            if result.status != "open":
                # False if someone resolved it meanwhile; the replay happened all the same: audit it.
                mark_letter(conn, letter.id, result.status, self._ctx.actor, {"action": "replay", **record})
            audit_in(conn, self._ctx.actor, "dlq.replay", letter.audit_object, before, after, record)

    async def aclose(self) -> None:
        self._ledger.flush()
        for lane in self._lanes.values():
            await lane.destination.aclose()
        await self._notifier.aclose()


def _result(
    letter: StoredLetter,
    outcome: ReplayOutcome,
    status: LetterStatus = "open",
    reason: str | None = None,
    sent: tuple[Delivery, ...] = (),
    refused: int = 0,
    new_letters: tuple[int, ...] = (),
) -> LetterResult:
    return LetterResult(
        letter.id, letter.entity, letter.destination, outcome, status, reason, sent, refused, new_letters
    )


def key_columns(engine: Engine, table: str) -> list[KeyColumn]:
    """The primary key columns of a CRM table (schema-qualified), with their Python types."""
    return [(column.name, _python_type(column)) for column in crm_table(engine, table).primary_key.columns]


def _python_type(column: Column[Any]) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return str
