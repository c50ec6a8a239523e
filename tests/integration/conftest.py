"""The real stack, started once per test session (ops/stack.sh) and stopped if we started it."""

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from cdc_sync.admin.connect_api import ConnectApi
from cdc_sync.admin.connectors import Connectors, load_specs
from cdc_sync.admin.crm_grants import grant_crm
from cdc_sync.config import KafkaConfig
from cdc_sync.data_keys import sealer_from
from cdc_sync.endpoints import kafka_client_config
from cdc_sync.events import ChangeEvent
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.source import ReadOptions, read_events
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate
from cdc_sync.store.sealed import install
from tests.integration.outbound_fixtures import clean_faults, inbound, runner, sandboxes

__all__ = ["clean_faults", "inbound", "runner", "sandboxes"]  # fixtures of the process-level tests

ROOT = Path(__file__).parents[2]
STACK = ROOT / "ops" / "stack.sh"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


def _stack(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STACK), command], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    was_running = _stack("status", 30).returncode == 0
    started = _stack("up", 1500)
    if started.returncode != 0:
        pytest.fail(f"the stack did not start:\n{started.stdout}\n{started.stderr}", pytrace=False)
    for line in _stack("env", 30).stdout.splitlines():
        name, _, value = line.partition("=")
        os.environ.setdefault(name, value)
    settings = Settings()
    migrate(state_engine(settings, "owner"))  # as `make stack-up` does: `db migrate`, `db grant`
    grant_crm(admin_engine(settings))
    install(sealer_from(settings))  # the payload columns' keys, as every cdc-sync process loads them
    connectors = Connectors(ConnectApi(settings.connect_url), admin_engine(settings))
    for spec in load_specs(ROOT / "connectors"):
        connectors.apply(connectors.plan(spec))
    yield settings
    if not was_running:
        stopped = _stack("down", 300)
        assert stopped.returncode == 0, stopped.stderr


def admin_engine(settings: Settings) -> Engine:
    return create_engine(settings.crm_admin_dsn.get_secret_value(), pool_pre_ping=True)


@pytest.fixture(scope="session")
def crm(settings: Settings) -> Engine:
    """The CRM database as its owner (the DBA's role)."""
    return admin_engine(settings)


@pytest.fixture(scope="session")
def state(settings: Settings) -> Engine:
    """cdc-sync's own state (schema cdc_sync), as the service role sees it."""
    return create_engine(settings.crm_dsn.get_secret_value(), pool_pre_ping=True)


@pytest.fixture(scope="session")
def connectors(settings: Settings, crm: Engine) -> Connectors:
    return Connectors(ConnectApi(settings.connect_url), crm)


@pytest.fixture(scope="session")
def registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry(settings.registry_url)


Collect = Callable[[str, Callable[[ChangeEvent], bool], int], list[ChangeEvent]]


@pytest.fixture
def collect(settings: Settings, registry: SchemaRegistry) -> Collect:
    """Read a topic from the start until `count` events match, or fail after 90 s."""

    def run(topic: str, wanted: Callable[[ChangeEvent], bool], count: int) -> list[ChangeEvent]:
        deadline = time.monotonic() + 90
        found: list[ChangeEvent] = []
        while len(found) < count and time.monotonic() < deadline:
            options = ReadOptions([topic], f"test-{uuid.uuid4()}", from_beginning=True, idle_timeout_s=3)
            found = [
                e
                for e in read_events(
                    kafka_client_config(settings, KafkaConfig()), EnvelopeDecoder(registry), options
                )
                if wanted(e)
            ]
        assert len(found) >= count, f"{topic}: {len(found)} of {count} events after 90 s: {found}"
        return sorted(found, key=lambda event: (event.source.lsn or 0, event.source.offset))

    return run
