"""Reading change events off Kafka: the thin adapter around confluent-kafka."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from cdc_sync.endpoints import with_refusals
from cdc_sync.errors import RejectedEvent, StackUnavailable
from cdc_sync.events import ChangeEvent
from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadOptions:
    topics: list[str]
    group_id: str
    from_beginning: bool = False
    max_events: int | None = None
    idle_timeout_s: float = 10.0


def raw_message(message: Message) -> RawMessage:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise RejectedEvent("Kafka record without topic, partition or offset")
    return RawMessage(topic, partition, offset, message.key(), message.value(), _headers(message))


def _headers(message: Message) -> tuple[tuple[str, bytes | None], ...]:
    pairs: list[Any] = list(message.headers() or ())
    return tuple((str(name), value.encode() if isinstance(value, str) else value) for name, value in pairs)


def read_events(
    client: dict[str, Any], decoder: EnvelopeDecoder, options: ReadOptions
) -> Iterator[ChangeEvent]:
    """Decoded change events, in partition order, until `max_events` or `idle_timeout_s` of silence.
    `client` is the common client config (`endpoints.kafka_client_config`).

    Commits nothing: this is for looking at the stream (tail, demo, tests), not for delivery.
    """
    bootstrap = client.get("bootstrap.servers")
    config, refusals = with_refusals(client)
    consumer = Consumer(
        {
            **config,
            "group.id": options.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if options.from_beginning else "latest",
            "topic.metadata.refresh.interval.ms": 2000,
        }
    )
    try:
        consumer.subscribe(options.topics)
        yield from _events(consumer, decoder, options)
        refusals.check(str(bootstrap))  # silence because the broker refused us is no idle stream
    except KafkaException as exc:
        raise StackUnavailable(f"Kafka at {bootstrap}: {exc}") from exc
    finally:
        consumer.close()


def _events(consumer: Consumer, decoder: EnvelopeDecoder, options: ReadOptions) -> Iterator[ChangeEvent]:
    remaining = options.max_events
    while remaining is None or remaining > 0:
        batch = consumer.consume(500, timeout=options.idle_timeout_s)
        if not batch:
            return
        for message in batch:
            event = _decode(message, decoder)
            if event is None:
                continue
            yield event
            remaining = None if remaining is None else remaining - 1
            if remaining == 0:
                return


def _decode(message: Message, decoder: EnvelopeDecoder) -> ChangeEvent | None:
    error = message.error()
    if error is not None:
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return None  # the topic appears with its first event; the subscription picks it up
        raise KafkaException(error)
    try:
        return decoder.decode(raw_message(message))
    except RejectedEvent as exc:  # a reader shows the stream: a poison record is skipped, not fatal
        log.warning("skipped %s/%s@%s: %s", message.topic(), message.partition(), message.offset(), exc)
        return None
