"""The config file (TOML): destinations, authority rules, notification targets, thresholds.

Path from `--config` or `CDC_SYNC_CONFIG`. Secrets are never in it: a destination names the
environment variable (or secret file) that holds its credential.
"""

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from cdc_sync.errors import ConfigError
from cdc_sync.model.config import DestinationConfig, Frozen, Owner, SourceConfig
from cdc_sync.vendors import registry

__all__ = ["AppConfig", "DestinationConfig", "DestinationKind", "Owner", "SourceConfig", "load_config"]

DestinationKind = str
"""A destination's `kind`: the name of a vendor in the registry that takes deliveries."""


class NotificationConfig(Frozen):
    """Where severe alerts are POSTed: a chat or pager webhook, whose URL carries its token, so
    it comes from the environment variable `url_env` (unset: alerts are rows only), never the file."""

    url_env: str = "CDC_SYNC_NOTIFICATIONS_URL"
    recipients: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_url_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "url carries the webhook's token and does not belong in the file: "
                "set it in the environment variable CDC_SYNC_NOTIFICATIONS_URL (or the one url_env names)"
            )
        return data

    @property
    def url(self) -> str | None:
        return os.environ.get(self.url_env) or None


KafkaValue = str | int | float | bool

# librdkafka properties that carry a secret: never in the file, each from its environment variable
# (a Settings field, so the log redactor knows it). Any other `*.password` / `*.secret` is refused too.
KAFKA_SECRETS: dict[str, str] = {
    "sasl.password": "CDC_SYNC_KAFKA_SASL_PASSWORD",
    "ssl.key.password": "CDC_SYNC_KAFKA_SSL_KEY_PASSWORD",
    "ssl.keystore.password": "CDC_SYNC_KAFKA_SSL_KEYSTORE_PASSWORD",
    "sasl.oauthbearer.client.secret": "CDC_SYNC_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    "ssl.key.pem": "CDC_SYNC_KAFKA_SSL_KEY_PEM",
}
# Properties cdc-sync sets itself: where they come from instead.
KAFKA_RESERVED: dict[str, str] = {
    "bootstrap.servers": "set CDC_SYNC_KAFKA_BOOTSTRAP",
    "group.id": "set [consumer] group_id",
    "session.timeout.ms": "set [consumer] session_timeout_ms",
    "enable.auto.commit": "cdc-sync commits the offsets of finished work itself",
    "enable.auto.offset.store": "cdc-sync stores the offsets of finished work itself",
    "error_cb": "cdc-sync reports client errors itself",
}


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`sasl.mechanism = ...` unquoted is a nested table in TOML: back to dotted property names."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        flat.update(_flat(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat


def _kafka_refusal(name: str) -> str | None:
    """Why a property may not be in the file, or None."""
    if name in KAFKA_SECRETS:
        return f"{name} is a secret and does not belong in the file: set it in {KAFKA_SECRETS[name]}"
    if name.endswith((".password", ".secret")):
        known = ", ".join(f"{prop} ({env})" for prop, env in KAFKA_SECRETS.items())
        return f"{name} looks like a secret and does not belong in the file; from the environment: {known}"
    return f"{name} is cdc-sync's own: {KAFKA_RESERVED[name]}" if name in KAFKA_RESERVED else None


class KafkaConfig(Frozen):
    """`[kafka]`: librdkafka properties every Kafka client of cdc-sync gets (`security.protocol`,
    `sasl.mechanism`, `sasl.username`, `ssl.ca.location`, ...), passed through as they are.
    Secrets come from the environment (`KAFKA_SECRETS`), the bootstrap from CDC_SYNC_KAFKA_BOOTSTRAP."""

    properties: dict[str, KafkaValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _properties(cls, data: Any) -> Any:
        if not isinstance(data, dict) or set(data) == {"properties"}:
            return data
        properties = _flat(data)
        refusals = [refusal for refusal in map(_kafka_refusal, properties) if refusal]
        if refusals:
            raise ValueError(refusals[0])
        return {"properties": properties}


class ConsumerConfig(Frozen):
    group_id: str = "cdc-sync-outbound"
    metrics_port: int | None = 9108
    poll_batch: int = Field(default=500, ge=1)
    # A member that stops heartbeating (kill -9) holds its partitions this long; librdkafka's
    # 45 s default stalls them for most of a minute after a crash. The broker's floor is 6 s.
    session_timeout_ms: int = Field(default=10_000, ge=6_000, le=300_000)


def _crm_owns_everything() -> dict[str, Owner]:
    return {"*": "crm"}


class ReconcileConfig(Frozen):
    """Reconciliation inside `cdc-sync run`: off unless `interval_s` is set.

    `fix = true` pushes corrections without asking: the config is the operator's approval.
    """

    interval_s: float | None = Field(default=None, gt=0)
    fix: bool = False
    sample: int | None = Field(default=None, ge=1)  # contacts per pass; None compares all


class ServerConfig(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # How long an idle keep-alive connection stays open: longer than the pools of the vendors and
    # proxies in front (often 5-60 s), so the server never closes one a client is reusing.
    keep_alive_s: int = Field(default=75, gt=0)
    openapi: bool = False  # /openapi.json and /docs on the webhook port (off: they describe the door)
    # /metrics on 127.0.0.1:metrics_port, apart from the webhooks (the admin listener); unset: none.
    metrics_port: int | None = Field(default=9109, gt=0, lt=65536)


class RetentionConfig(Frozen):
    """How long cdc-sync keeps its own records, in days (unset: kept for ever). Pruned by
    `cdc-sync prune` and, with `interval_s`, inside `cdc-sync run`, `batch` rows a statement."""

    ledger_days: float | None = Field(default=None, gt=0)  # delivery attempts
    inbox_days: float | None = Field(default=None, gt=0)  # finished events; waiting ones are kept
    dead_letters_days: float | None = Field(default=None, gt=0)  # after their resolution; open ones kept
    audit_days: float | None = Field(default=None, gt=0)
    interval_s: float | None = Field(default=None, gt=0)
    batch: int = Field(default=10_000, ge=1)


Role = Literal["viewer", "operator", "admin"]  # the console's roles, each allowed what those before it are


class ConsoleConfig(Frozen):
    """Who the console takes an operator to be: its own passwords (the default), or the user an
    OIDC/OAuth2 proxy in front of it signed in (oauth2-proxy, Pomerium, an ingress's auth), with
    their groups mapped to roles. Only with the console reachable through that proxy alone."""

    proxy_user_header: str | None = None  # e.g. "X-Forwarded-Email"; unset: console passwords
    proxy_groups_header: str = "X-Forwarded-Groups"  # comma-separated, as oauth2-proxy sends them
    proxy_roles: dict[str, Role] = Field(default_factory=dict)  # group → role; the highest applies
    # `/console` on serve too, with the operator's database role in the internet-facing process;
    # false keeps serve to its own role (run `cdc-sync console` apart).
    on_serve: bool = True


def _default_sources() -> dict[str, SourceConfig]:
    return dict(registry.DEFAULT_SOURCES)


class AppConfig(Frozen):
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=_default_sources)
    server: ServerConfig = ServerConfig()
    console: ConsoleConfig = ConsoleConfig()
    authority: dict[str, Owner] = Field(default_factory=_crm_owns_everything)
    # "table.field" another system owns → the reasons (in the row's `<field>_correction`) for
    # which a CRM change of it is pushed to that system as a correction (`rules.authority`).
    corrections: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    notifications: NotificationConfig = NotificationConfig()
    consumer: ConsumerConfig = ConsumerConfig()
    kafka: KafkaConfig = KafkaConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    retention: RetentionConfig = RetentionConfig()
    contracts_dir: Path = Path("schemas")

    def require_destinations(self, names: Iterable[str]) -> None:
        """A clear error for names no destination has (CLI arguments, replay filters)."""
        unknown = [name for name in names if name not in self.destinations]
        if unknown:
            configured = ", ".join(self.destinations) or "none"
            raise ConfigError(f"no destination named {', '.join(unknown)}; configured: {configured}")

    @field_validator("authority")
    @classmethod
    def _has_default(cls, rules: dict[str, Owner]) -> dict[str, Owner]:
        if "*" not in rules:
            raise ValueError('authority needs a "*" default owner')
        _check_owners(rules.values())
        return rules

    @field_validator("corrections")
    @classmethod
    def _table_fields(cls, corrections: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, reasons in corrections.items():
            table, _, field = name.partition(".")
            if not (table.isidentifier() and field.isidentifier()) or not reasons:
                raise ValueError(f'{name}: a correction is "table.field" = ["reason", ...]')
        return corrections

    @field_validator("destinations")
    @classmethod
    def _known_kinds(cls, destinations: dict[str, DestinationConfig]) -> dict[str, DestinationConfig]:
        """Kinds and their own settings are what the vendor registry has."""
        for name, destination in destinations.items():
            _check_destination(name, destination)
        return destinations

    @field_validator("sources")
    @classmethod
    def _known_schemes(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name, source in sources.items():
            if source.scheme not in registry.VERIFIER_SCHEMES:
                known = ", ".join(sorted(registry.VERIFIER_SCHEMES))
                raise ValueError(f"source {name}: no signing scheme {source.scheme!r}; known: {known}")
            _check_owners([source.system])
        return sources


def _check_owners(owners: Iterable[str]) -> None:
    unknown = sorted(set(owners) - registry.OWNERS)
    if unknown:
        raise ValueError(f"unknown system {', '.join(unknown)}; known: {', '.join(sorted(registry.OWNERS))}")


def _check_destination(name: str, destination: DestinationConfig) -> None:
    try:
        registry.check_options(destination.kind, destination.options)
    except (ConfigError, ValueError) as exc:
        raise ValueError(f"destination {name}: {_one_line(exc)}") from None
    _check_owners([destination.system])


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    place = ".".join(map(str, loc))
    message = message.removeprefix("Value error, ")
    return f"{place}: {message}" if place else message


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(_problem(e["loc"], e["msg"]) for e in exc.errors())
    return str(exc)


def load_config(path: Path) -> AppConfig:
    if not path.is_file():  # e.g. installed from a wheel and run outside the repository
        raise ConfigError(f"{path}: no config file there: pass --config PATH or set CDC_SYNC_CONFIG")
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    try:
        return AppConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_one_line(exc)}") from exc
