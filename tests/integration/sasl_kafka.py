"""A throwaway Kafka broker with a SASL_SSL listener (SCRAM-SHA-512), as a managed Kafka has one.

Its own process, data and free ports, apart from the shared stack's broker (which stays as it is):
a CA and the broker's certificate made here with `openssl`, the SCRAM credential bootstrapped at
format time (KRaft), the jars `ops/stack.sh` installed. Inter-broker and controller traffic stay
on loopback plaintext listeners of its own; clients get SASL_SSL only.
"""

import base64
import os
import shutil
import signal
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.outbound_fixtures import wait_for

JARS = Path(os.environ.get("CDC_SYNC_HOME", Path.home() / ".cache" / "cdc-sync")) / "jars" / "kafka" / "libs"
USERNAME = "cdc-sync"
MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"

LOG4J = """rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(tmp: Path) -> tuple[Path, Path]:
    """A CA (ca.pem) and the broker's key and certificate for 127.0.0.1 signed by it (broker.pem,
    PKCS#8 key then certificate: the PEM keystore Kafka reads)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=cdc-sync test CA", cwd=tmp)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=127.0.0.1", cwd=tmp)  # fmt: skip
    (tmp / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.crt", "-days", "2", "-extfile", "san.cnf", cwd=tmp)  # fmt: skip
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.p8", cwd=tmp)
    (tmp / "broker.pem").write_text((tmp / "broker.p8").read_text() + (tmp / "broker.crt").read_text())
    return tmp / "ca.pem", tmp / "broker.pem"


def server_properties(tmp: Path, keystore: Path, ports: dict[str, int]) -> str:
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{ports["controller"]}
listeners=SASL_SSL://127.0.0.1:{ports["sasl"]},INTERNAL://127.0.0.1:{ports["internal"]},CONTROLLER://127.0.0.1:{ports["controller"]}
advertised.listeners=SASL_SSL://127.0.0.1:{ports["sasl"]},INTERNAL://127.0.0.1:{ports["internal"]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={SCRAM_LOGIN}
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
log.dirs={tmp / "data"}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
"""


@dataclass
class SaslBroker:
    bootstrap: str
    ca: Path
    password: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def properties(self) -> dict[str, str]:
        """The `[kafka]` section a deployment against this broker has (no password: that is env)."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": MECHANISM,
            "sasl.username": USERNAME,
            "ssl.ca.location": str(self.ca),
        }

    def client(self, **extra: Any) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            **self.properties,
            "sasl.password": self.password,
            **extra,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def cluster_id() -> str:
    """What `kafka-storage random-uuid` prints: a UUID, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def java(tmp: Path, heap: str) -> list[str]:
    log4j = tmp / "log4j2.properties"
    log4j.write_text(LOG4J)
    return [
        "java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{JARS}/*",
    ]  # fmt: skip


def start_sasl_broker(tmp: Path) -> SaslBroker:
    """Format and start the broker; returns once its SASL_SSL listener is up."""
    if not JARS.is_dir() or shutil.which("java") is None or shutil.which("openssl") is None:
        pytest.fail(f"the SASL broker needs java, openssl and the Kafka jars in {JARS} (ops/stack.sh up)")
    ca, keystore = make_certificates(tmp)
    ports = {"sasl": free_port(), "internal": free_port(), "controller": free_port()}
    config = tmp / "server.properties"
    config.write_text(server_properties(tmp, keystore, ports))
    password = f"scram-{uuid.uuid4().hex}"
    jvm = java(tmp, "128m")
    subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c",
         str(config), "--add-scram", f"{MECHANISM}=[name={USERNAME},password={password}]"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    log = tmp / "broker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*java(tmp, "256m"), "kafka.Kafka", str(config)],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    broker = SaslBroker(f"127.0.0.1:{ports['sasl']}", ca, password, process, log)

    def started() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the SASL broker exited:\n{log.read_text()[-3000:]}", pytrace=False)
        return "Transition from STARTING to STARTED" in log.read_text()

    try:
        wait_for("the SASL_SSL broker", started, timeout_s=120, every_s=0.5)
    except BaseException:
        broker.stop()
        raise
    return broker
