"""Consumer groups as `offsets show` reports them: members, committed offsets, lag (pure).

`admin.kafka_admin` reads Kafka; everything here is a function of what it read.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cdc_sync.errors import CdcSyncError

GroupState = Literal["stable", "preparing_rebalance", "completing_rebalance", "empty", "dead", "unknown"]
Key = tuple[str, int]  # (topic, partition)
_BUSY: frozenset[GroupState] = frozenset({"stable", "preparing_rebalance", "completing_rebalance"})


class GroupActive(CdcSyncError):
    """The consumer group has live members; Kafka would refuse, and they would overwrite the offsets."""


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupInfo:
    group: str
    state: GroupState
    members: tuple[Member, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.members) or self.state in _BUSY


def require_idle(group: GroupInfo) -> None:
    """Offsets may only move while nobody consumes: a live member would commit over them."""
    if not group.active:
        return
    who = ", ".join(f"consumer {m.member_id} on {m.host.lstrip('/')}" for m in group.members)
    raise GroupActive(
        f"group {group.group} has {len(group.members)} active member(s) ({who or group.state}); "
        "stop `cdc-sync run` first, then rewind"
    )


@dataclass(frozen=True)
class LagRow:
    topic: str
    partition: int
    committed: int | None
    start: int | None
    end: int | None

    @property
    def lag(self) -> int | None:
        """Events not yet committed; with no commit `cdc-sync run` starts at the log start (earliest),
        as the consumer-lag metric counts it."""
        begin = self.start if self.committed is None else self.committed
        return None if begin is None or self.end is None else max(self.end - begin, 0)


@dataclass(frozen=True)
class OffsetsReport:
    group: GroupInfo
    rows: tuple[LagRow, ...]
    missing_topics: tuple[str, ...] = ()

    @property
    def total_lag(self) -> int:
        return sum(row.lag or 0 for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.group,
            "state": self.group.state,
            "members": [asdict(member) for member in self.group.members],
            "partitions": [{**asdict(row), "lag": row.lag} for row in self.rows],
            "total_lag": self.total_lag,
            "missing_topics": list(self.missing_topics),
        }


def partitions_to_show(
    committed: Mapping[Key, int], topics: Mapping[str, Sequence[int]], routed: Iterable[str]
) -> tuple[list[Key], list[str]]:
    """Every partition of the topics the group committed on or the config routes; missing topics apart."""
    wanted = {topic for topic, _ in committed} | set(routed)
    keys = set(committed) | {(topic, p) for topic in wanted if topic in topics for p in topics[topic]}
    return sorted(keys), sorted(topic for topic in wanted if topic not in topics)


def offsets_report(
    group: GroupInfo,
    keys: Sequence[Key],
    committed: Mapping[Key, int],
    watermarks: Mapping[Key, tuple[int, int]],
    missing_topics: Sequence[str] = (),
) -> OffsetsReport:
    rows = tuple(
        LagRow(topic, p, committed.get((topic, p)), *watermarks.get((topic, p), (None, None)))
        for topic, p in keys
    )
    return OffsetsReport(group, rows, tuple(missing_topics))
