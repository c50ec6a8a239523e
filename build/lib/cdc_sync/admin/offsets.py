"""`offsets rewind`, the pure part: rewind targets, topic checks and the rewind plan.

`admin.kafka_admin` reads Kafka; everything here is a function of what it read (and of `now`),
so a rewind can be previewed, tested and audited without a broker.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from difflib import get_close_matches
from typing import Any

from cdc_sync.admin.consumer_groups import GroupInfo
from cdc_sync.errors import CdcSyncError, ConfigError
from cdc_sync.outbound.pipeline import Route


class InvalidRewind(ConfigError):
    """The rewind cannot be done as asked (bad target, topic, partition or range): fix the options."""


class UnknownTopic(InvalidRewind):
    """The topic does not exist in Kafka."""


class RewindRefused(CdcSyncError):
    """The rewind was not carried out (no confirmation possible, or Kafka refused some partitions)."""


# --- rewind targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class ToOffset:
    offset: int

    def describe(self) -> str:
        return f"--to-offset {self.offset}"


@dataclass(frozen=True)
class ToTime:
    at: datetime

    def describe(self) -> str:
        return f"--to-time {self.at.isoformat()}"


@dataclass(frozen=True)
class ToEarliest:
    def describe(self) -> str:
        return "--to-earliest"


@dataclass(frozen=True)
class Shift:
    by: int  # negative: that many events back from the committed offset

    def describe(self) -> str:
        return f"--shift {self.by}"


Target = ToOffset | ToTime | ToEarliest | Shift


def target_of(
    to_offset: int | None, to_time: datetime | None, to_earliest: bool, shift: int | None, now: datetime
) -> Target:
    """The one target the options name; `now` bounds --to-time."""
    given = {
        "--to-offset": to_offset,
        "--to-time": to_time,
        "--to-earliest": to_earliest or None,
        "--shift": shift,
    }
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        got = f" (got {', '.join(chosen)})" if chosen else ""
        raise InvalidRewind(f"give exactly one of --to-offset, --to-time, --to-earliest, --shift{got}")
    if to_offset is not None:
        return _to_offset(to_offset)
    if to_time is not None:
        return _to_time(to_time, now)
    if shift is not None:
        return _shift(shift)
    return ToEarliest()


def _to_offset(offset: int) -> ToOffset:
    if offset < 0:
        raise InvalidRewind(f"--to-offset must be 0 or more, not {offset}")
    return ToOffset(offset)


def _shift(by: int) -> Shift:
    if by >= 0:
        raise InvalidRewind(
            f"--shift must be negative (events back from the committed offset, e.g. --shift -100), not {by}; "
            "to skip forward use --to-offset or --to-time"
        )
    return Shift(by)


def _to_time(at: datetime, now: datetime) -> ToTime:
    at = at.astimezone(UTC)
    if at > now:
        raise InvalidRewind(f"--to-time {at.isoformat()} is in the future (now {now.isoformat()})")
    return ToTime(at)


# --- what to rewind -------------------------------------------------------------------------


def table_of(topic: str, topic_prefix: str) -> str | None:
    head = f"{topic_prefix}."
    return topic[len(head) :] if topic.startswith(head) else None


def routed_topics(topic_prefix: str, routes: Mapping[str, Sequence[Route]]) -> list[str]:
    return sorted(f"{topic_prefix}.{table}" for table in routes)


def destinations_for(topic: str, topic_prefix: str, routes: Mapping[str, Sequence[Route]]) -> tuple[str, ...]:
    """The destinations that re-receive a topic's events: topic → table → routes."""
    table = table_of(topic, topic_prefix)
    return tuple(route.destination for route in routes.get(table or "", ()))


def check_topic(topic: str, known: Iterable[str]) -> None:
    names = sorted(name for name in known if not name.startswith("__"))
    if topic in names:
        return
    similar = get_close_matches(topic, names, n=3, cutoff=0.6)
    more = f" and {len(names) - 12} more" if len(names) > 12 else ""
    hint = (
        f"did you mean {', '.join(similar)}?"
        if similar
        else f"topics: {', '.join(names[:12]) or 'none'}{more}"
    )
    raise UnknownTopic(f"no topic {topic!r} in Kafka; {hint}")


def check_partition(topic: str, partition: int | None, partitions: Sequence[int]) -> None:
    if partition is None or partition in partitions:
        return
    have = ", ".join(map(str, sorted(partitions)))
    raise InvalidRewind(f"topic {topic} has no partition {partition}; its partitions: {have}")


# --- the rewind plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class RewindRequest:
    group: str
    topic: str
    target: Target
    partition: int | None = None  # None: every partition of the topic


@dataclass(frozen=True)
class PartitionOffsets:
    """What Kafka says about one partition: the group's committed offset and the log's bounds."""

    partition: int
    committed: int | None
    low: int
    high: int
    at_time: int | None = None  # first offset at/after --to-time; None: no such message (yet)


@dataclass(frozen=True)
class Move:
    partition: int
    committed: int | None  # None: nothing committed, the group starts at its auto.offset.reset
    to: int
    start: int
    end: int

    @property
    def _from(self) -> int:
        """Where the group reads from now: with nothing committed, the log start (`cdc-sync run`
        uses auto.offset.reset=earliest, as `offsets show` counts lag)."""
        return self.start if self.committed is None else max(self.committed, self.start)

    @property
    def reread(self) -> int:
        """Events delivered again: those between the new offset and the current position."""
        return max(0, min(self._from, self.end) - self.to)

    @property
    def skipped(self) -> int:
        """Events never delivered: a forward move past ones still in the log."""
        return max(0, self.to - self._from)


@dataclass(frozen=True)
class AuditEntry:
    action: str
    object: str
    before: dict[str, int | None]
    after: dict[str, int]
    details: dict[str, Any]


@dataclass(frozen=True)
class RewindPlan:
    group: GroupInfo
    topic: str
    target: Target
    moves: tuple[Move, ...]
    destinations: tuple[str, ...]
    untouched: tuple[int, ...] = ()  # --shift on partitions with nothing committed to shift from

    @property
    def offsets(self) -> dict[int, int]:
        return {move.partition: move.to for move in self.moves}

    @property
    def events_reread(self) -> int:
        return sum(move.reread for move in self.moves)

    @property
    def events_skipped(self) -> int:
        return sum(move.skipped for move in self.moves)

    @property
    def warnings(self) -> list[str]:
        notes = [
            f"partition {m.partition} moves forward: {m.skipped} events will never be delivered"
            for m in self.moves
            if m.skipped
        ]
        notes += [f"partition {p}: nothing committed to shift from; left as it is" for p in self.untouched]
        if not self.destinations:
            notes.append(f"no configured destination reads {self.topic}")
        if self.group.active:
            notes.append(
                f"group {self.group.group} has {len(self.group.members)} active member(s); "
                "stop `cdc-sync run` before rewinding"
            )
        return notes

    def audit_entry(self, applied: Mapping[int, int]) -> AuditEntry:
        """The audit record of the partitions actually moved."""
        moved = [move for move in self.moves if move.partition in applied]
        return AuditEntry(
            "offsets.rewind",
            f"group:{self.group.group}/topic:{self.topic}",
            {str(m.partition): m.committed for m in moved},
            {str(m.partition): m.to for m in moved},
            {
                "target": self.target.describe(),
                "events_reread": sum(m.reread for m in moved),
                "events_skipped": sum(m.skipped for m in moved),
                "destinations": list(self.destinations),
            },
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.group,
            "topic": self.topic,
            "target": self.target.describe(),
            "partitions": [{**asdict(m), "reread": m.reread, "skipped": m.skipped} for m in self.moves],
            "untouched_partitions": list(self.untouched),
            "events_reread": self.events_reread,
            "events_skipped": self.events_skipped,
            "destinations": list(self.destinations),
            "active_members": len(self.group.members),
            "warnings": self.warnings,
        }


def plan_rewind(
    request: RewindRequest,
    group: GroupInfo,
    partitions: Sequence[PartitionOffsets],
    destinations: Sequence[str],
) -> RewindPlan:
    """Where each chosen partition moves, and what that re-reads or skips; validates the target."""
    check_partition(request.topic, request.partition, [p.partition for p in partitions])
    chosen = [p for p in partitions if request.partition in (None, p.partition)]
    targets = {p.partition: target_offset(request.target, request.topic, p) for p in chosen}
    moves = tuple(
        Move(p.partition, p.committed, to, p.low, p.high)
        for p in chosen
        if (to := targets[p.partition]) is not None
    )
    if not moves:
        raise InvalidRewind(
            f"group {request.group} has no committed offset to shift from on {request.topic}; "
            "use --to-offset, --to-time or --to-earliest"
        )
    untouched = tuple(p for p, to in targets.items() if to is None)
    return RewindPlan(group, request.topic, request.target, moves, tuple(destinations), untouched)


def target_offset(target: Target, topic: str, p: PartitionOffsets) -> int | None:
    """The new committed offset of one partition (None: leave it, there is nothing to shift)."""
    match target:
        case ToOffset(offset):
            if not p.low <= offset <= p.high:
                raise InvalidRewind(
                    f"--to-offset {offset} is outside {topic} partition {p.partition}: "
                    f"valid offsets are {p.low}..{p.high}"
                )
            return offset
        case ToTime():
            return p.high if p.at_time is None else p.at_time
        case ToEarliest():
            return p.low
        case Shift(by):
            return None if p.committed is None else max(p.low, p.committed + by)
