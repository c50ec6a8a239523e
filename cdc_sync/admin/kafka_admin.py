"""The Kafka side of `offsets show|rewind`: a thin AdminClient adapter, and the edge steps that
feed the pure planner (`admin.offsets`) and carry out its plan.

Every call is bounded by a timeout and every KafkaException becomes a cdc-sync error here.
"""

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any, TypeVar

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # OffsetSpec: re-exported, not in __all__
    AdminClient,
    OffsetSpec,
)
from sqlalchemy import Engine

from cdc_sync.admin.consumer_groups import (
    GroupActive,
    GroupInfo,
    GroupState,
    Key,
    Member,
    OffsetsReport,
    offsets_report,
    partitions_to_show,
    require_idle,
)
from cdc_sync.admin.offsets import (
    PartitionOffsets,
    RewindPlan,
    RewindRefused,
    RewindRequest,
    ToTime,
    check_partition,
    check_topic,
    plan_rewind,
)
from cdc_sync.endpoints import with_refusals
from cdc_sync.errors import CdcSyncError, StackUnavailable
from cdc_sync.store.audit import audit

T = TypeVar("T")
_UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}
# A classic group with members answers an offset commit from outside with UNKNOWN_MEMBER_ID.
_GROUP_BUSY = {
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.NON_EMPTY_GROUP,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
}
_STATES: dict[str, GroupState] = {
    "STABLE": "stable",
    "PREPARING_REBALANCING": "preparing_rebalance",
    "COMPLETING_REBALANCING": "completing_rebalance",
    "EMPTY": "empty",
    "DEAD": "dead",
}
# OffsetSpec's factories carry no type hints (confluent-kafka 2.x).
_EARLIEST: Any = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
_LATEST: Any = OffsetSpec.latest()  # type: ignore[no-untyped-call]


class KafkaOffsets:
    """The AdminClient calls of the offsets commands, each bounded by `timeout_s`."""

    def __init__(self, config: dict[str, Any], timeout_s: float = 10.0, client: Any = None) -> None:
        """`config`: the common client config (`endpoints.kafka_client_config`)."""
        self.bootstrap = str(config.get("bootstrap.servers"))
        self._timeout = timeout_s
        # librdkafka would log every failed connection attempt; the translated error says it once.
        config, self._refusals = with_refusals({"log_level": 0, **config})
        self._admin = client or AdminClient(config)

    def topics(self) -> dict[str, tuple[int, ...]]:
        """Topic → its partitions."""
        metadata = self._call("list topics", lambda: self._admin.list_topics(timeout=self._timeout))
        return {name: tuple(sorted(topic.partitions)) for name, topic in metadata.topics.items()}

    def group(self, group: str) -> GroupInfo:
        futures = self._admin.describe_consumer_groups([group], request_timeout=self._timeout)
        found = self._result(f"describe group {group}", futures[group])
        state = _STATES.get(found.state.name, "unknown")
        return GroupInfo(group, state, tuple(_member(m) for m in found.members))

    def committed(self, group: str) -> dict[Key, int]:
        request = [ConsumerGroupTopicPartitions(group)]
        futures = self._admin.list_consumer_group_offsets(request, request_timeout=self._timeout)
        found = self._result(f"read offsets of group {group}", futures[group])
        return {(tp.topic, tp.partition): tp.offset for tp in found.topic_partitions if tp.offset >= 0}

    def watermarks(self, keys: Iterable[Key]) -> dict[Key, tuple[int, int]]:
        """(low, high) of each partition: the first offset still in the log, and the next to be written."""
        keys = list(keys)
        low = self._list_offsets(keys, _EARLIEST)
        high = self._list_offsets(keys, _LATEST)
        return {key: (low[key], high[key]) for key in keys}

    def offsets_at(self, keys: Iterable[Key], at: datetime) -> dict[Key, int | None]:
        """The first offset of a message at or after `at`; None where there is none yet."""
        found = self._list_offsets(list(keys), OffsetSpec.for_timestamp(int(at.timestamp() * 1000)))
        return {key: offset if offset >= 0 else None for key, offset in found.items()}

    def alter(self, group: str, topic: str, offsets: Mapping[int, int]) -> dict[int, str]:
        """Commit `offsets` for the group; returns the partitions Kafka refused, with the reason."""
        request = [
            ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p, o) for p, o in offsets.items()])
        ]
        futures = self._admin.alter_consumer_group_offsets(request, request_timeout=self._timeout)
        found = self._result(f"move offsets of group {group}", futures[group])
        refused = {tp.partition: tp.error for tp in found.topic_partitions if tp.error is not None}
        busy = [error for error in refused.values() if error.code() in _GROUP_BUSY]
        if busy:
            raise GroupActive(
                f"Kafka refused to move the offsets of group {group}: it has active members "
                f"({busy[0].str()}); stop `cdc-sync run` first, then rewind"
            )
        return {partition: error.str() for partition, error in refused.items()}

    def _list_offsets(self, keys: list[Key], spec: Any) -> dict[Key, int]:
        request = {TopicPartition(topic, partition): spec for topic, partition in keys}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        return {
            (tp.topic, tp.partition): self._result(f"list offsets of {tp.topic}", future).offset
            for tp, future in futures.items()
        }

    def _result(self, what: str, future: "Future[T]") -> T:
        return self._call(what, lambda: future.result(timeout=self._timeout + 5))

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except KafkaException as exc:
            self._refusals.check(self.bootstrap)
            raise self._translate(what, exc) from exc
        except FutureTimeout as exc:
            self._refusals.check(self.bootstrap)
            raise StackUnavailable(f"cannot reach Kafka at {self.bootstrap}: {what} timed out") from exc

    def _translate(self, what: str, exc: KafkaException) -> CdcSyncError:
        error = exc.args[0] if exc.args else None
        if not isinstance(error, KafkaError):
            return StackUnavailable(f"Kafka at {self.bootstrap}: {what} failed: {exc}")
        if error.code() in _UNREACHABLE:
            return StackUnavailable(f"cannot reach Kafka at {self.bootstrap}: {what}: {error.str()}")
        if error.code() in _GROUP_BUSY:
            return GroupActive(f"Kafka refused to {what}: the group has active members ({error.str()})")
        return StackUnavailable(f"Kafka at {self.bootstrap}: {what} failed: {error.str()}")


def _member(member: Any) -> Member:
    assignment = member.assignment.topic_partitions if member.assignment else []
    return Member(
        member.member_id,
        member.client_id,
        member.host,
        tuple(f"{tp.topic}/{tp.partition}" for tp in assignment),
    )


def read_offsets(kafka: KafkaOffsets, group: str, routed: Iterable[str]) -> OffsetsReport:
    """Committed, end and lag per partition of the group's topics and of the `routed` ones."""
    topics = kafka.topics()  # first: its error says best when Kafka cannot be reached
    info = kafka.group(group)
    committed = kafka.committed(group)
    keys, missing = partitions_to_show(committed, topics, routed)
    watermarks = kafka.watermarks(key for key in keys if key[1] in topics.get(key[0], ()))
    return offsets_report(info, keys, committed, watermarks, missing)


def preview_rewind(kafka: KafkaOffsets, request: RewindRequest, destinations: Iterable[str]) -> RewindPlan:
    """Read what the plan needs (validating topic and partition first), then plan; changes nothing."""
    topics = kafka.topics()
    check_topic(request.topic, topics)
    check_partition(request.topic, request.partition, topics[request.topic])
    chosen = [p for p in topics[request.topic] if request.partition in (None, p)]
    keys = [(request.topic, p) for p in chosen]
    marks = kafka.watermarks(keys)
    at = kafka.offsets_at(keys, request.target.at) if isinstance(request.target, ToTime) else {}
    committed = kafka.committed(request.group)
    partitions = [PartitionOffsets(key[1], committed.get(key), *marks[key], at.get(key)) for key in keys]
    return plan_rewind(request, kafka.group(request.group), partitions, list(destinations))


def apply_rewind(kafka: KafkaOffsets, engine: Engine, plan: RewindPlan, actor: str) -> None:
    """Commit the plan's offsets while the group is idle and as previewed, and audit what moved."""
    require_idle(kafka.group(plan.group.group))
    _require_unchanged(kafka, plan)
    refused = kafka.alter(plan.group.group, plan.topic, plan.offsets)
    applied = {p: offset for p, offset in plan.offsets.items() if p not in refused}
    if applied:
        entry = plan.audit_entry(applied)
        audit(engine, actor, entry.action, entry.object, entry.before, entry.after, entry.details)
    if refused:
        reasons = "; ".join(f"partition {p}: {reason}" for p, reason in sorted(refused.items()))
        moved = ", ".join(map(str, applied)) or "none"
        raise RewindRefused(
            f"Kafka refused to move {plan.topic} for group {plan.group.group}: {reasons} (moved: {moved})"
        )


def _require_unchanged(kafka: KafkaOffsets, plan: RewindPlan) -> None:
    """The preview may have waited at a prompt: refuse if someone moved the offsets meanwhile."""
    now = kafka.committed(plan.group.group)
    moved = [m.partition for m in plan.moves if now.get((plan.topic, m.partition)) != m.committed]
    if moved:
        raise RewindRefused(
            f"the committed offsets of {plan.topic} partition(s) {', '.join(map(str, moved))} changed "
            "since the preview; run the rewind again to see the new impact"
        )
