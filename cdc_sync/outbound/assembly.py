"""Builds the outbound service from settings and the config file (the one place that wires I/O)."""

import logging
from collections.abc import Collection
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, create_engine, make_url

from cdc_sync.admin.connect_api import ConnectApi
from cdc_sync.admin.connectors import load_specs
from cdc_sync.config import AppConfig, DestinationConfig, load_config
from cdc_sync.data_keys import sealer_from
from cdc_sync.delivery.durable import DurableHooks
from cdc_sync.delivery.sender import DeliveryHooks, Lane
from cdc_sync.endpoints import connect_endpoint, kafka_client_config, registry_endpoint
from cdc_sync.errors import ConfigError
from cdc_sync.observability.notify import Notifier
from cdc_sync.observability.source_health import SourceHealth, Watched
from cdc_sync.outbound.change_source import KafkaChangeSource, consumer_config
from cdc_sync.outbound.contracts import load_contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.pipeline import build_routes
from cdc_sync.outbound.registry import SchemaRegistry
from cdc_sync.outbound.runner import OutboundRunner, RunnerParts
from cdc_sync.settings import Process, Settings
from cdc_sync.store.ledger import LedgerWriter
from cdc_sync.store.migrate import require_current
from cdc_sync.store.sealed import install
from cdc_sync.vendors.registry import build_destination

log = logging.getLogger(__name__)


@dataclass
class Outbound:
    runner: OutboundRunner
    lanes: dict[str, Lane]
    notifier: Notifier
    ledger: LedgerWriter

    async def aclose(self) -> None:
        for lane in self.lanes.values():
            await lane.destination.aclose()
        await self.notifier.aclose()


# An unreachable database must fail a connection attempt quickly (a webhook answers 503 at once
# instead of hanging on a dropped SYN); a connect_timeout in the DSN itself still wins.
CONNECT_TIMEOUT_S = 3


def state_engine(settings: Settings, process: Process = "operator") -> Engine:
    """The database as `process`'s role sees it."""
    # hide_parameters: SQL errors reach logs, and the parameters would carry the CRM's personal data.
    install(sealer_from(settings))  # the payload columns' keys (store.sealed)
    dsn = settings.dsn(process).get_secret_value()
    timeout = {} if "connect_timeout" in make_url(dsn).query else {"connect_timeout": CONNECT_TIMEOUT_S}
    return create_engine(dsn, pool_pre_ping=True, pool_size=10, hide_parameters=True, connect_args=timeout)


def crm_admin_engine(settings: Settings) -> Engine:
    """The CRM as its owner (the DBA's role): publications, slots, grants."""
    return create_engine(settings.crm_admin_dsn.get_secret_value(), pool_pre_ping=True, hide_parameters=True)


def build_lane(
    name: str,
    config: DestinationConfig,
    hooks: DeliveryHooks,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Lane:
    """A destination's lane: its vendor's adapter (credential from the environment) behind the
    delivery engine, reporting to `hooks` (the ledger, dead letters, alerts)."""
    return Lane(config=config, destination=build_destination(name, config, transport), hooks=hooks)


def build_lanes(config: AppConfig, hooks: DeliveryHooks) -> dict[str, Lane]:
    return {name: build_lane(name, destination, hooks) for name, destination in config.destinations.items()}


def source_health(settings: Settings, engine: Engine, tables: Collection[str] = ()) -> SourceHealth:
    """Watch the connectors of `connectors/` and the slots they name (none if there is no such
    folder: the change source is then someone else's to watch), and count the rows the CRM
    changes in `tables` (the ones run consumes)."""
    try:
        specs = load_specs(settings.connectors_dir)
    except ConfigError as exc:
        log.info("not watching connectors: %s", exc)
        specs = []
    watched = [Watched(spec.name, str(spec.config.get("slot.name", "debezium"))) for spec in specs]
    connect = ConnectApi(connect_endpoint(settings), timeout_s=3.0)
    return SourceHealth(engine, connect.status, watched, tables)


def build_outbound(settings: Settings, config: AppConfig | None = None) -> Outbound:
    config = config or load_config(settings.config)
    engine = state_engine(settings, "runner")
    require_current(engine)
    ledger = LedgerWriter(engine)
    notifier = Notifier(config.notifications)
    systems = {name: destination.system for name, destination in config.destinations.items()}
    lanes = build_lanes(config, DurableHooks(engine, ledger, notifier, systems))
    routes = build_routes(config)
    parts = RunnerParts(
        source=KafkaChangeSource(
            consumer_config(kafka_client_config(settings, config.kafka), config.consumer)
        ),
        topic_prefix=settings.topic_prefix,
        config=config,
        engine=engine,
        decoder=EnvelopeDecoder(SchemaRegistry(registry_endpoint(settings))),
        contracts=load_contracts(config.contracts_dir),
        routes=routes,
        lanes=lanes,
        ledger=ledger,
        source_health=source_health(settings, engine, routes),
    )
    return Outbound(OutboundRunner(parts), lanes, notifier, ledger)
