"""The config file (TOML): destinations, authority rules, notification targets, thresholds.

Path from `--config` or `CDC_SYNC_CONFIG`. Secrets are never in it: a destination names the
environment variable (or secret file) that holds its credential.
"""

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cdc_sync.errors import ConfigError
from cdc_sync.inbound.sources import DEFAULT_SOURCES, SourceConfig

Owner = Literal["crm", "marketing", "helpdesk", "erp", "callcenter", "both"]
DestinationKind = Literal["mailchimp", "zendesk", "webhook"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DestinationConfig(_Frozen):
    kind: DestinationKind
    system: Owner
    base_url: str
    tables: tuple[str, ...]
    credential_env: str | None = None
    credential_file: Path | None = None
    list_id: str | None = None  # mailchimp audience
    agent_email: str | None = None  # zendesk API user
    path: str = "/"  # webhook destination
    rate_limit_per_s: float = Field(default=10.0, gt=0)
    rate_target: float = Field(default=0.8, gt=0, le=1)
    latency_threshold_s: float = Field(default=3.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    max_compensations: int = Field(default=3, ge=0)
    max_concurrency: int = Field(default=16, ge=1)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_cap_s: float = Field(default=30.0, gt=0)
    retry_after_cap_s: float = Field(default=300.0, gt=0)  # the longest Retry-After obeyed
    # 429s for longer than this count as failures (compensation, then escalation and pause).
    max_throttled_s: float = Field(default=600.0, gt=0)
    # Batching where the vendor's API has a consent-safe batch form: wait up to batch_window_s
    # for more deliveries of the same kind, at most batch_max (default and cap: the vendor's own
    # limit; 1 turns batching off). A webhook receiver gets batches only when batch_max > 1.
    batch_max: int | None = Field(default=None, ge=1)
    batch_window_s: float = Field(default=0.02, ge=0, le=1)

    def credential(self, name: str) -> SecretStr:
        """The destination's secret, from its environment variable or secret file."""
        if self.credential_env and os.environ.get(self.credential_env):
            return SecretStr(os.environ[self.credential_env])
        if self.credential_file is not None and self.credential_file.is_file():
            return SecretStr(self.credential_file.read_text().strip())
        where = self.credential_env or self.credential_file or "credential_env / credential_file"
        raise ConfigError(f"destination {name}: no credential in {where}")


class NotificationConfig(_Frozen):
    url: str | None = None
    recipients: dict[str, str] = Field(default_factory=dict)


class ConsumerConfig(_Frozen):
    group_id: str = "cdc-sync-outbound"
    metrics_port: int | None = 9108
    poll_batch: int = Field(default=500, ge=1)
    # A member that stops heartbeating (kill -9) holds its partitions this long; librdkafka's
    # 45 s default stalls them for most of a minute after a crash. The broker's floor is 6 s.
    session_timeout_ms: int = Field(default=10_000, ge=6_000, le=300_000)


def _crm_owns_everything() -> dict[str, Owner]:
    return {"*": "crm"}


class ReconcileConfig(_Frozen):
    """Reconciliation inside `cdc-sync run`: off unless `interval_s` is set.

    `fix = true` pushes corrections without asking: the config is the operator's approval.
    """

    interval_s: float | None = Field(default=None, gt=0)
    fix: bool = False
    sample: int | None = Field(default=None, ge=1)  # contacts per pass; None compares all


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)


def _default_sources() -> dict[str, SourceConfig]:
    return dict(DEFAULT_SOURCES)


class AppConfig(_Frozen):
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=_default_sources)
    server: ServerConfig = ServerConfig()
    authority: dict[str, Owner] = Field(default_factory=_crm_owns_everything)
    notifications: NotificationConfig = NotificationConfig()
    consumer: ConsumerConfig = ConsumerConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    contracts_dir: Path = Path("schemas")

    @field_validator("authority")
    @classmethod
    def _has_default(cls, rules: dict[str, Owner]) -> dict[str, Owner]:
        if "*" not in rules:
            raise ValueError('authority needs a "*" default owner')
        return rules


def load_config(path: Path) -> AppConfig:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    try:
        return AppConfig.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
