"""Processes the outbound tests drive: the vendor sandboxes and `cdc-sync run` (real subprocesses)."""

import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import tomli_w
from confluent_kafka import Consumer, TopicPartition

from cdc_sync.vendors.registry import SANDBOXES

T = TypeVar("T")
ROOT = Path(__file__).parents[2]
SANDBOX = {name: f"http://127.0.0.1:{app.port}" for name, app in SANDBOXES.items()}
METRICS_PORT = 9118
WRITER_METRICS_PORT = 9120
CLI = str(Path(sys.executable).parent / "cdc-sync")


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 60.0, every_s: float = 0.25) -> T:
    """Poll until `probe` returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})", pytrace=False)


def sandbox(vendor: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, SANDBOX[vendor] + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def request_keys(request: dict[str, Any]) -> set[str]:
    """Idempotency keys a logged vendor request carried: its own, and one per item of a batch."""
    items = (request["headers"].get("x-item-idempotency-keys") or "").split(",")
    return {key for key in (request["idempotency_key"], *items) if key}


def write_test_config(tmp: Path, contracts_dir: Path) -> Path:
    """The repo config with thresholds short enough that compensation runs in seconds."""
    config = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["contracts_dir"] = str(contracts_dir)
    config["consumer"].update(group_id=f"cdc-sync-test-{uuid.uuid4().hex[:8]}", metrics_port=METRICS_PORT)
    config["destinations"]["marketing"].update(rate_limit_per_s=25, backoff_base_s=0.2, backoff_cap_s=1.0)
    config["destinations"]["helpdesk"].update(max_compensations=1, timeout_s=12.0, backoff_base_s=0.2)
    path = tmp / "cdc-sync.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def refuse_busy_port(url: str) -> None:
    """Fail when something already answers there: the tests would talk to it instead of theirs."""
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return
    pytest.fail(f"{url} is already in use by another process: stop it first", pytrace=False)


@dataclass
class Process:
    """A restartable cdc-sync process with its log, ready when `ready_url` answers."""

    args: list[str]
    log: Path
    ready_url: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([CLI, *self.args], cwd=ROOT, stdout=out, stderr=out)
        if self.ready_url:
            wait_for(f"{self.args[-1]} ready", self._ready, timeout_s=60)

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"cdc-sync {' '.join(self.args)} exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(str(self.ready_url), timeout=2).is_success
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=60)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


@dataclass
class Runner(Process):
    """`cdc-sync run` with its config: restartable (kill -9 tests), metrics and CLI beside it."""

    config: Path = Path()

    @classmethod
    def for_config(cls, config: Path, log: Path) -> "Runner":
        args = ["--config", str(config), "-v", "run"]
        return cls(args, log, f"http://127.0.0.1:{METRICS_PORT}/metrics", config=config)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another cdc-sync command with this runner's config (operators run them beside it)."""
        return subprocess.run(
            [CLI, "--config", str(self.config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples with these labels, read from the live /metrics."""
        text = httpx.get(str(self.ready_url), timeout=5).text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(f"{name}{{") and all(part in line for part in wanted)
        )


@pytest.fixture(scope="session")
def sandboxes(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    for url in SANDBOX.values():
        refuse_busy_port(url)
    with log.open("wb") as out:
        process = subprocess.Popen([CLI, "sandbox"], cwd=ROOT, stdout=out, stderr=out)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"cdc-sync sandbox exited:\n{log.read_text()}")
        try:
            return all(httpx.get(url + "/_sandbox/faults", timeout=1).is_success for url in SANDBOX.values())
        except httpx.HTTPError:
            return False

    wait_for("the vendor sandboxes", ready, timeout_s=30)
    yield
    process.terminate()
    process.wait(timeout=30)


def start_group_at_the_end(bootstrap: str, group_id: str, topics: list[str]) -> None:
    """Commit the group at the topics' current ends: the session sees only the changes it makes,
    not the history earlier sessions left in the topics. A topic that does not exist yet (a fresh
    stack: Debezium creates a table's topic with its first change) holds no history; the group
    reads it from its beginning (auto.offset.reset=earliest) once it appears."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    ends = []
    for topic in topics:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            ends.append(TopicPartition(topic, partition, high))
    if ends:
        consumer.commit(offsets=ends, asynchronous=False)
    consumer.close()


@pytest.fixture(scope="session")
def runner(settings: Any, sandboxes: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    tmp = tmp_path_factory.mktemp("run")
    config_path = write_test_config(tmp, ROOT / "schemas")
    config = tomllib.loads(config_path.read_text())
    tables = {table for destination in config["destinations"].values() for table in destination["tables"]}
    topics = [f"{settings.topic_prefix}.{table}" for table in tables]
    start_group_at_the_end(settings.kafka_bootstrap, config["consumer"]["group_id"], topics)
    started = Runner.for_config(config_path, tmp / "run.log")
    for name in config["destinations"]:  # a paused destination left by an earlier session
        resumed = started.cli("destinations", "resume", name)
        assert resumed.returncode == 0, resumed.stderr
    started.start()
    yield started
    assert started.stop() == 0, started.log.read_text()[-3000:]


@pytest.fixture(autouse=True)
def clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandboxes" in request.fixturenames:
        for vendor in SANDBOX:
            sandbox(vendor, "PUT", "/_sandbox/faults", json={})


@pytest.fixture(scope="session")
def inbound(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """`cdc-sync serve --no-writer` on :8000 and a separate `cdc-sync writer` (restartable)."""
    tmp = tmp_path_factory.mktemp("inbound")
    config = ["--config", str(runner.config)]
    serve = Process(
        [*config, "-v", "serve", "--no-writer"], tmp / "serve.log", "http://127.0.0.1:8000/readyz"
    )
    writer_args = ["-v", "--log-json", "writer", "--metrics-port", str(WRITER_METRICS_PORT)]
    writer = Process(
        [*config, *writer_args], tmp / "writer.log", f"http://127.0.0.1:{WRITER_METRICS_PORT}/metrics"
    )
    refuse_busy_port("http://127.0.0.1:8000")
    serve.start()
    writer.start()
    try:
        yield writer
    finally:
        stopped = writer.stop(), serve.stop()
    assert stopped == (0, 0), (
        f"exit codes {stopped}: {writer.log.read_text()[-2000:]}\n{serve.log.read_text()[-2000:]}"
    )
