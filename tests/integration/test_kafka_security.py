"""Bring-your-own Kafka: `cdc-sync run` against a broker that takes SASL_SSL only (SCRAM-SHA-512,
a CA of its own), configured by `[kafka]` with the password from the environment.

The change records are real ones: a contact inserted into the CRM, its Debezium record read off
the stack's broker and copied byte for byte (key, value, headers) into the SASL broker's topic;
the registry is the stack's, so its schema ids resolve.
"""

import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import tomli_w
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from sqlalchemy import Engine

from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import raw_message
from cdc_sync.settings import Settings
from tests.integration.outbound_fixtures import CLI, ROOT, Process, wait_for, write_test_config
from tests.integration.sasl_kafka import SaslBroker, free_port, start_sasl_broker
from tests.integration.test_outbound import add_contacts, member

pytestmark = pytest.mark.usefixtures("sandboxes")


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    broker = start_sasl_broker(tmp_path_factory.mktemp("sasl-kafka"))
    try:
        yield broker
    finally:
        broker.stop()


def ends(consumer: Consumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return [
        TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
        for p in partitions
    ]


def record_of(settings: Settings, registry: SchemaRegistry, topic: str, email: str, crm: Engine) -> Message:
    """Insert a contact and return its change record as Debezium wrote it to the stack's broker."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"copy-{uuid.uuid4()}"})
    decoder = EnvelopeDecoder(registry)
    try:
        consumer.assign(ends(consumer, topic))
        add_contacts(crm, [email])

        def ours() -> Message | None:
            for message in consumer.consume(100, 1.0):
                if message.error() is None:
                    event = decoder.decode(raw_message(message))
                    if event is not None and (event.after or {}).get("email") == email:
                        return message
            return None

        return wait_for(f"the change record of {email} on the stack's broker", ours, timeout_s=90, every_s=0)
    finally:
        consumer.close()


def copy_into(broker: SaslBroker, record: Message) -> None:
    producer = Producer(broker.client())
    producer.produce(str(record.topic()), record.value(), record.key(), headers=record.headers() or [])
    assert producer.flush(60) == 0, "the copied record was not acknowledged by the SASL broker"


def committed(broker: SaslBroker, group: str, topic: str) -> int:
    """The group's committed offset of partition 0 on the SASL broker (-1001: none yet, or its
    coordinator is still loading on the fresh broker)."""
    offsets = Consumer(broker.client(**{"group.id": group}))
    try:
        return int(offsets.committed([TopicPartition(topic, 0)], timeout=10)[0].offset)
    except KafkaException:
        return -1001
    finally:
        offsets.close()


def runner_config(tmp: Path, broker: SaslBroker, metrics_port: int) -> Path:
    path = write_test_config(tmp, ROOT / "schemas")
    config = tomllib.loads(path.read_text())
    config["consumer"]["metrics_port"] = metrics_port
    config["kafka"] = broker.properties  # no password in the file: it is refused there
    path.write_text(tomli_w.dumps(config))
    return path


def test_run_reads_changes_over_sasl_ssl_and_delivers_them(
    sasl_broker: SaslBroker,
    settings: Settings,
    registry: SchemaRegistry,
    crm: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = f"{settings.topic_prefix}.public.contacts"
    email = f"sasl-{uuid.uuid4().hex[:8]}@example.com"
    copy_into(sasl_broker, record_of(settings, registry, topic, email, crm))
    port = free_port()
    config = runner_config(tmp_path, sasl_broker, port)
    group = tomllib.loads(config.read_text())["consumer"]["group_id"]
    monkeypatch.setenv("CDC_SYNC_KAFKA_BOOTSTRAP", sasl_broker.bootstrap)
    monkeypatch.setenv("CDC_SYNC_KAFKA_SASL_PASSWORD", sasl_broker.password)
    run = Process(
        ["--config", str(config), "-v", "run"], tmp_path / "run.log", f"http://127.0.0.1:{port}/metrics"
    )
    run.start()
    try:
        wait_for(f"{email} at the marketing sandbox", lambda: member(email), timeout_s=120)
        # The session's own runner (the stack's broker) may deliver the same contact first: what
        # shows this runner did it over SASL_SSL is its group's offset there, stored once done.
        done = partial(committed, sasl_broker, group, topic)
        wait_for("the SASL group's offset past the record", lambda: done() == 1 or None, 120, every_s=1)
    finally:
        assert run.stop() == 0, run.log.read_text()[-3000:]
    assert sasl_broker.password not in run.log.read_text()


def run_once(config: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """`cdc-sync run` that is expected to stop by itself (the timeout bounds it)."""
    command = [CLI, "--config", str(config), "run"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)


def test_a_wrong_password_stops_run_with_one_line_instead_of_waiting(
    sasl_broker: SaslBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = runner_config(tmp_path, sasl_broker, free_port())
    monkeypatch.setenv("CDC_SYNC_KAFKA_BOOTSTRAP", sasl_broker.bootstrap)
    monkeypatch.setenv("CDC_SYNC_KAFKA_SASL_PASSWORD", "not-the-password")
    done = run_once(config, timeout_s=180)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "refused the connection" in line]
    assert len(errors) == 1 and "Authentication failed" in errors[0], done.stderr[-3000:]
    assert "not-the-password" not in done.stderr


def test_a_password_in_the_file_is_refused_naming_the_variable(
    sasl_broker: SaslBroker, tmp_path: Path
) -> None:
    config = runner_config(tmp_path, sasl_broker, free_port())
    document = tomllib.loads(config.read_text())
    document["kafka"]["sasl.password"] = sasl_broker.password
    config.write_text(tomli_w.dumps(document))
    done = run_once(config, timeout_s=120)
    assert done.returncode == 2
    assert "CDC_SYNC_KAFKA_SASL_PASSWORD" in done.stderr and sasl_broker.password not in done.stderr
