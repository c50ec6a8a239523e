"""What a dead letter is, whether and in which order it may replay (pure: no I/O).

`repair.dead_letters` does the replaying; these decide over what it has read.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cdc_sync.errors import CdcSyncError
from cdc_sync.model.delivery import Delivery
from cdc_sync.outbound.pipeline import Route
from cdc_sync.outbound.poison import RECORD_FIELDS
from cdc_sync.store.dead_letters import LetterStatus, StoredLetter

ReplayKind = Literal["delivery", "event", "record", "undecodable", "unknown"]
ReplayOutcome = Literal["replayed", "failed_again", "rejected", "halted", "skipped"]
OUTCOMES: tuple[ReplayOutcome, ...] = ("replayed", "failed_again", "rejected", "halted", "skipped")
KeyColumn = tuple[str, type]
_SENT_FIELDS = {"destination", "entity", "operation", "idempotency_key"}


def replay_kind(letter: StoredLetter) -> ReplayKind:
    payload = letter.payload if isinstance(letter.payload, dict) else {}
    if {"request", "idempotency_key"} <= payload.keys():
        return "delivery"
    if {"op", "table", "key", "source"} <= payload.keys():
        return "event"
    if letter.topic is None and payload.keys() >= RECORD_FIELDS:
        return "record"  # a poison record, kept whole: it decodes again on replay
    if letter.topic is None and {"topic", "offset"} <= payload.keys():
        return "undecodable"  # kept before the bytes were: only a rewind reads it again
    return "unknown"


def undecodable_reason(letter: StoredLetter) -> str:
    payload = letter.payload
    partition = payload.get("partition", "<partition>")
    return (
        f"letter {letter.id} cannot be replayed: the record could not be decoded; fix the cause and "
        f"re-read it with `cdc-sync offsets rewind --topic {payload['topic']} --partition {partition} "
        f"--to-offset {payload['offset']}`"
    )


def replay_problem(letter: StoredLetter, configured: Collection[str], only: str | None) -> str | None:
    """Why this letter cannot be replayed (None: it can), `only` being a destination filter."""
    if letter.status != "open":
        return f"dead letter {letter.id} is {letter.status}; only open letters can be replayed"
    kind = replay_kind(letter)
    if kind == "undecodable":
        return undecodable_reason(letter)
    if kind == "unknown":
        return f"dead letter {letter.id} holds neither a delivery nor a change event; discard it"
    return _destination_problem(letter, configured, only)


def _destination_problem(letter: StoredLetter, configured: Collection[str], only: str | None) -> str | None:
    if only is not None and letter.destination != only:
        return f"dead letter {letter.id} is for {letter.destination or 'every destination'}, not {only}"
    if letter.destination is not None and letter.destination not in configured:
        return f"dead letter {letter.id} is for destination {letter.destination!r}, which is not configured"
    return None


def letter_destinations(letters: Sequence[StoredLetter], configured: Collection[str]) -> set[str]:
    """The destinations a replay of these letters may send to (a letter of none: any of them)."""
    named = {letter.destination for letter in letters}
    return set(configured) if None in named else {name for name in named if name is not None}


def entity_values(entity: str) -> list[str]:
    """`contact_tag:42,7` → ["42", "7"]."""
    name, colon, values = entity.partition(":")
    if not (name and colon and values):
        raise CdcSyncError(f"{entity!r} does not name a row (expected name:key[,key...])")
    return values.split(",")


def row_key(entity: str, columns: Sequence[KeyColumn]) -> dict[str, Any]:
    """The primary key an entity names, given the table's key columns and their Python types."""
    values = entity_values(entity)
    if len(values) != len(columns):
        names = ", ".join(name for name, _ in columns)
        raise CdcSyncError(f"{entity} does not name one row by the table's primary key ({names})")
    try:
        return {name: int(v) if kind is int else v for (name, kind), v in zip(columns, values, strict=True)}
    except ValueError:
        raise CdcSyncError(f"{entity} does not name one row: its key is not a number") from None


def routes_for(
    routes: Mapping[str, list[Route]], table: str, destination: str | None
) -> dict[str, list[Route]]:
    """The routes a letter replays through: its destination's, or every one of the table's."""
    return {table: [r for r in routes.get(table, []) if destination in (None, r.destination)]}


@dataclass(frozen=True)
class LetterResult:
    letter: int
    entity: str | None
    destination: str | None
    outcome: ReplayOutcome
    status: LetterStatus = "open"
    reason: str | None = None  # why it is still open, or was skipped
    sent: tuple[Delivery, ...] = ()
    refused: int = 0
    new_letters: tuple[int, ...] = ()

    @property
    def delivered(self) -> int:
        return len(self.sent) - self.refused if self.outcome in ("replayed", "failed_again") else 0


def blocked_by(letter: StoredLetter, earlier: Sequence[LetterResult]) -> int | None:
    """An earlier letter of this run, same entity and overlapping destination, still open.
    A letter of no known entity (a poison record) is ordered by its ledger check alone."""
    if letter.entity is None:
        return None
    for result in earlier:
        overlaps = (
            None in (result.destination, letter.destination) or result.destination == letter.destination
        )
        # Refused again, the change is still undelivered (now as a new letter): later ones wait.
        still_open = result.status == "open" or bool(result.new_letters)
        if still_open and result.entity == letter.entity and overlaps:
            return result.letter
    return None


def replay_order(letters: Sequence[StoredLetter]) -> list[StoredLetter]:
    """The order the changes happened (WAL position), not the order they were dead-lettered:
    a refused delivery is written after its retries, later than a rejection planned meanwhile."""
    return sorted(letters, key=lambda letter: (letter.lsn is None, letter.lsn or 0, letter.id))


def replay_record(result: LetterResult, fresh: bool) -> dict[str, Any]:
    """What a replay did, for the audit record and the letter's resolution."""
    return {
        "letter": result.letter,
        "fresh": fresh,
        "destination": result.destination,
        "outcome": result.outcome,
        "reason": result.reason,
        "new_letters": list(result.new_letters),
        "deliveries": [d.model_dump(include=_SENT_FIELDS) for d in result.sent],
    }


def attempt_keys(letter: StoredLetter, history: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(entity, idempotency key) of every request the letter stands for, first and replayed."""
    keys = [(letter.entity, letter.idempotency_key)] if letter.entity and letter.idempotency_key else []
    for record in history:
        sent = (record.get("details") or {}).get("deliveries") or []
        keys.extend((d["entity"], d["idempotency_key"]) for d in sent)
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class ReplayReport:
    results: tuple[LetterResult, ...]
    halted: str | None = None

    def counts(self) -> dict[str, int]:
        return {outcome: sum(r.outcome == outcome for r in self.results) for outcome in OUTCOMES}
