"""Kafka positions for `make bench-peer`: a consumer group that starts at the topic's current end."""

import uuid

from confluent_kafka import Consumer, TopicPartition


def end_offsets(bootstrap: str, topic: str) -> list[TopicPartition]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-peer-probe-{uuid.uuid4().hex[:6]}"}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in partitions
        ]
    finally:
        consumer.close()


def produced(bootstrap: str, topic: str) -> int:
    """Records ever written to `topic` (the sum of its end offsets)."""
    return sum(tp.offset for tp in end_offsets(bootstrap, topic))


def group_at_end(bootstrap: str, topic: str, name: str) -> str:
    """A fresh consumer group whose committed offsets are the topic's current end."""
    group = f"bench-peer-{name}-{uuid.uuid4().hex[:6]}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=end_offsets(bootstrap, topic), asynchronous=False)
    finally:
        consumer.close()
    return group
