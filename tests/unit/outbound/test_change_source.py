"""The Kafka change source: records out of confluent-kafka's messages, its errors translated, a
pause applied after the lag is measured, offsets stored and sought as the runner asks."""

from typing import Any, cast

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from cdc_sync.config import ConsumerConfig
from cdc_sync.errors import ConfigError, StackUnavailable
from cdc_sync.observability.consumer_lag import ConsumerLag
from cdc_sync.outbound.change_source import KafkaChangeSource, consumer_config
from cdc_sync.outbound.envelope import RawMessage
from tests.unit.outbound.test_loop_watch import CONTACT_CHANGES, FakeMessage

CREATE = CONTACT_CHANGES[0]


class ErrorMessage(FakeMessage):
    def __init__(self, error: KafkaError) -> None:
        super().__init__(CREATE)
        self._error = error

    def error(self) -> KafkaError:  # type: ignore[override]
        return self._error


class FakeConsumer:
    """confluent-kafka's Consumer as far as the source calls it."""

    def __init__(self, messages: list[FakeMessage]) -> None:
        self.messages = messages
        self.calls: list[str] = []
        self.stored: list[tuple[str, int, int]] = []
        self.sought: list[tuple[str, int, int]] = []
        self.refuse = False

    def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any) -> None:
        self.on_assign, self.on_revoke = on_assign, on_revoke

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(CREATE.topic, CREATE.partition)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.calls.append("pause")

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.calls.append("resume")

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.calls.append("consume")
        if self.refuse:
            raise KafkaException(KafkaError(KafkaError._FATAL, "broker gone", fatal=True))
        return self.messages

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        if self.refuse:
            raise KafkaException(KafkaError(KafkaError._STATE, "revoked"))
        self.stored += [(tp.topic, tp.partition, tp.offset) for tp in offsets]

    def seek(self, tp: TopicPartition) -> None:
        self.sought.append((tp.topic, tp.partition, tp.offset))

    def commit(self, asynchronous: bool) -> None:
        self.calls.append("commit")


class NotingLag(ConsumerLag):
    def __init__(self, consumer: FakeConsumer) -> None:
        super().__init__()
        self.consumer = consumer

    def maybe_refresh(self, consumer: Any, paused: bool = False) -> None:
        self.consumer.calls.append(f"lag paused={paused}")


def opened(
    messages: list[FakeMessage], revoked: Any = lambda partitions: None
) -> tuple[KafkaChangeSource, FakeConsumer]:
    consumer = FakeConsumer(messages)
    source = KafkaChangeSource({}, NotingLag(consumer), lambda config: cast(Consumer, consumer))
    source.open(["crm.public.contacts"], revoked)
    return source, consumer


def raw(offset: int, partition: int = 0) -> RawMessage:
    return RawMessage(CREATE.topic, partition, offset, CREATE.key, CREATE.value, (("trace", b"t"),))


def test_messages_become_records_and_a_passing_error_is_skipped() -> None:
    passing = ErrorMessage(KafkaError(KafkaError._PARTITION_EOF, "eof"))
    source, _ = opened([FakeMessage(raw(7)), cast(FakeMessage, passing), FakeMessage(raw(8))])
    assert source.poll(500, 0.2) == [raw(7), raw(8)]


def test_a_fatal_consumer_error_is_the_stack_unavailable() -> None:
    fatal = ErrorMessage(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    source, _ = opened([FakeMessage(raw(7)), fatal])
    with pytest.raises(StackUnavailable, match="fenced"):
        source.poll(500, 0.2)


def test_a_consumer_that_fails_is_the_stack_unavailable_not_a_kafka_exception() -> None:
    source, consumer = opened([])
    consumer.refuse = True
    with pytest.raises(StackUnavailable, match="broker gone"):
        source.poll(500, 0.2)


def test_a_pause_takes_effect_at_the_next_poll_after_the_lag_is_measured_and_only_once() -> None:
    source, consumer = opened([])
    source.pause()
    source.poll(500, 0.2)
    source.pause()
    source.poll(500, 0.2)
    source.resume()
    source.poll(500, 0.2)
    assert consumer.calls == [
        *("lag paused=False", "pause", "consume"),
        *("lag paused=True", "consume"),
        *("lag paused=True", "resume", "consume"),
    ]


def test_a_new_assignment_starts_unpaused_and_the_next_poll_pauses_it_again() -> None:
    source, consumer = opened([])
    source.pause()
    source.poll(500, 0.2)
    consumer.on_assign(consumer, consumer.assignment())
    consumer.calls.clear()
    source.poll(500, 0.2)
    assert consumer.calls == ["lag paused=False", "pause", "consume"]


def test_revoked_partitions_are_handed_to_the_runner_then_committed() -> None:
    handed: list[list[tuple[str, int]]] = []
    _, consumer = opened([], handed.append)
    consumer.on_revoke(consumer, [TopicPartition(CREATE.topic, 3)])
    assert handed == [[(CREATE.topic, 3)]] and consumer.calls == ["commit"]


def test_offsets_are_stored_and_a_refusal_is_only_logged() -> None:
    source, consumer = opened([])
    source.store_offsets({(CREATE.topic, 0): 9, (CREATE.topic, 1): 4})
    consumer.refuse = True
    source.store_offsets({(CREATE.topic, 0): 10})
    assert consumer.stored == [(CREATE.topic, 0, 9), (CREATE.topic, 1, 4)]


def test_a_batch_is_sought_back_to_each_partitions_first_record() -> None:
    source, consumer = opened([])
    source.seek_back([raw(5), raw(3, partition=1), raw(6), raw(4, partition=1)])
    assert consumer.sought == [(CREATE.topic, 0, 5), (CREATE.topic, 1, 3)]


def test_the_consumer_config_stores_offsets_only_when_told_and_commits_them_in_the_background() -> None:
    client = {"bootstrap.servers": "kafka:9092", "security.protocol": "SASL_SSL", "fetch.wait.max.ms": 50}
    config = consumer_config(client, ConsumerConfig(group_id="g"))
    assert config["enable.auto.offset.store"] is False and config["enable.auto.commit"] is True
    assert config["bootstrap.servers"] == "kafka:9092" and config["group.id"] == "g"
    assert config["security.protocol"] == "SASL_SSL" and config["fetch.wait.max.ms"] == 50  # [kafka] tunes


def test_the_source_counts_the_partitions_it_holds_through_assignments_and_revocations() -> None:
    source, consumer = opened([])
    assert source.assigned() == 0  # subscribed, nothing assigned yet: not ready
    consumer.on_assign(consumer, [TopicPartition(CREATE.topic, 0), TopicPartition(CREATE.topic, 1)])
    consumer.on_assign(consumer, [TopicPartition(CREATE.topic, 2)])  # incremental (cooperative)
    consumer.on_revoke(consumer, [TopicPartition(CREATE.topic, 0)])
    assert source.assigned() == 2


def test_a_broker_refusing_the_credentials_stops_the_source_with_one_line() -> None:
    """librdkafka retries a refused login for ever and consume() stays silent: the source's
    error_cb notes it and the next poll stops with the reason instead of waiting."""
    seen: dict[str, Any] = {}
    consumer = FakeConsumer([])
    source = KafkaChangeSource(
        {"bootstrap.servers": "kafka:9096"},
        NotingLag(consumer),
        lambda config: cast(Consumer, seen.update(config) or consumer),
    )
    source.open(["crm.public.contacts"], lambda partitions: None)
    assert source.poll(500, 0.2) == []
    seen["error_cb"](KafkaError(KafkaError._TRANSPORT, "broker away"))  # passing: retried
    assert source.poll(500, 0.2) == []
    seen["error_cb"](KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: invalid credentials"))
    with pytest.raises(
        ConfigError, match=r"^Kafka at kafka:9096 refused the connection: SASL .*invalid credentials"
    ):
        source.poll(500, 0.2)
