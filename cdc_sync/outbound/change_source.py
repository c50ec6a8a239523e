"""Where `cdc-sync run` reads changes from: the port, and its Kafka adapter.

Every call of a source is made on one thread (the runner's consumer thread): librdkafka calls
made from elsewhere would wait for the consume() running there.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from cdc_sync.config import ConsumerConfig
from cdc_sync.endpoints import KafkaRefusals
from cdc_sync.errors import StackUnavailable
from cdc_sync.observability.consumer_lag import ConsumerLag
from cdc_sync.outbound.envelope import RawMessage
from cdc_sync.outbound.source import raw_message

log = logging.getLogger(__name__)
Partition = tuple[str, int]
Revoked = Callable[[list[Partition]], None]


class ChangeSource(Protocol):
    def open(self, topics: list[str], revoked: Revoked) -> None:
        """Start reading `topics`; `revoked` is called (on the thread of `poll`) before partitions
        are taken away, and once it returns their stored offsets are committed."""

    def poll(self, max_records: int, timeout_s: float) -> list[RawMessage]: ...

    def store_offsets(self, offsets: dict[Partition, int]) -> None:
        """Mark the next offset to read of each partition as done (committed in the background)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def seek_back(self, records: Sequence[RawMessage]) -> None:
        """The next poll reads these records again, from each partition's first one."""

    def close(self) -> None: ...

    def assigned(self) -> int:
        """How many partitions this member holds now (0: not ready to consume)."""
        ...


def first_offsets(records: Sequence[RawMessage]) -> dict[Partition, int]:
    first: dict[Partition, int] = {}
    for record in records:
        first.setdefault((record.topic, record.partition), record.offset)
    return first


def consumer_config(client: dict[str, Any], consumer: ConsumerConfig) -> dict[str, Any]:
    """`run`'s consumer: the common client config (`endpoints.kafka_client_config`) and its own
    settings; `[kafka]` may tune the defaults here but not what `config.KAFKA_RESERVED` names."""
    return {
        "auto.commit.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "topic.metadata.refresh.interval.ms": 5000,
        # An idle fetch returns within 100 ms; one with data returns at once (fetch.min.bytes 1).
        "fetch.wait.max.ms": 100,
        # Prefetch at most 16 MB: a backlog of a million changes must not sit in memory.
        "queued.max.messages.kbytes": 16384,
        **client,
        "group.id": consumer.group_id,
        "session.timeout.ms": consumer.session_timeout_ms,
        "enable.auto.offset.store": False,
        "enable.auto.commit": True,
    }


class KafkaChangeSource:
    """A consumer group member. Consumer lag is measured on each poll (see `ConsumerLag`); a pause
    takes effect at the next poll, after that measurement, and a new assignment starts unpaused."""

    def __init__(
        self,
        config: dict[str, Any],
        lag: ConsumerLag | None = None,
        connect: Callable[[dict[str, Any]], Consumer] = Consumer,
    ) -> None:
        self._config = config
        self._lag = lag or ConsumerLag()
        self._connect = connect
        self._consumer: Consumer | None = None
        self._revoked: Revoked = lambda partitions: None
        self._paused = False
        self._pause_wanted = False
        self._assignment: set[Partition] = set()  # by the callbacks, in the consumer's thread
        self._refusals = KafkaRefusals()

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("change source not opened")
        return self._consumer

    def open(self, topics: list[str], revoked: Revoked) -> None:
        self._revoked = revoked
        self._consumer = self._connect({**self._config, "error_cb": self._refusals})
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def poll(self, max_records: int, timeout_s: float) -> list[RawMessage]:
        consumer = self.consumer
        self._lag.maybe_refresh(consumer, paused=self._paused)
        try:
            if self._pause_wanted != self._paused:
                (consumer.pause if self._pause_wanted else consumer.resume)(consumer.assignment())
                self._paused = self._pause_wanted
            messages = consumer.consume(max_records, timeout_s)
        except KafkaException as exc:
            raise StackUnavailable(f"Kafka: {exc}") from exc
        self._refusals.check(str(self._config.get("bootstrap.servers")))
        return records_of(messages)

    def store_offsets(self, offsets: dict[Partition, int]) -> None:
        owned = [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]
        try:
            self.consumer.store_offsets(offsets=owned)
        except KafkaException as exc:
            log.info("offsets not stored (partition revoked?): %s", exc)

    def pause(self) -> None:
        self._pause_wanted = True

    def resume(self) -> None:
        self._pause_wanted = False

    def seek_back(self, records: Sequence[RawMessage]) -> None:
        for (topic, partition), offset in first_offsets(records).items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: its next owner reads it
                log.info("not sought back %s/%s: %s", topic, partition, exc)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()  # revokes (drained already) and commits stored offsets

    def assigned(self) -> int:
        return len(self._assignment)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._paused = False  # librdkafka resumes what it assigns; the next poll pauses again if wanted
        self._assignment |= {(p.topic, p.partition) for p in partitions}
        log.info("assigned %s", [f"{p.topic}/{p.partition}" for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Runs inside consume(): the runner lets in-flight work of these partitions finish first."""
        self._assignment -= {(p.topic, p.partition) for p in partitions}
        self._revoked([(p.topic, p.partition) for p in partitions])
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.info("commit on revoke: %s", exc)


def records_of(messages: Sequence[Message]) -> list[RawMessage]:
    """A fatal error stops the source; any other is logged and skipped."""
    records: list[RawMessage] = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(raw_message(message))
        elif error.fatal():
            raise StackUnavailable(f"Kafka: {error}")
        else:
            log.warning("consumer: %s", error)
    return records
