"""The config models the core and the vendor plugins share: a destination, a webhook source and
the systems that own data. `cdc_sync.config` reads the file and checks these against the vendor
registry (known kinds, systems, signing schemes and each vendor's own settings)."""

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cdc_sync.errors import ConfigError

Owner = str
"""A system that owns data: `crm`, `both` (shared) or a vendor's system (`cdc_sync.config` checks)."""
CORE_OWNERS: frozenset[str] = frozenset({"crm", "both"})


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DestinationConfig(BaseModel):
    """A destination: the settings every kind has. A kind's own settings (e.g. an audience id) are
    the extra keys, which its vendor's `options` model reads and `cdc_sync.config` validates."""

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str
    system: Owner
    base_url: str
    tables: tuple[str, ...]
    credential_env: str | None = None
    credential_file: Path | None = None
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
    # Gray release: the share of contacts synced (`rules.rollout`); `destinations rollout` widens it.
    rollout: float = Field(default=1.0, ge=0, le=1)

    def credential(self, name: str) -> SecretStr:
        """The destination's secret, from its environment variable or secret file."""
        if self.credential_env and os.environ.get(self.credential_env):
            return SecretStr(os.environ[self.credential_env])
        if self.credential_file is not None and self.credential_file.is_file():
            return SecretStr(self.credential_file.read_text().strip())
        where = self.credential_env or self.credential_file or "credential_env / credential_file"
        raise ConfigError(f"destination {name}: no credential in {where}")

    @property
    def options(self) -> dict[str, object]:
        """The kind's own settings, as the file gave them."""
        return dict(self.model_extra or {})


class SourceConfig(Frozen):
    """A vendor that calls us (`/webhooks/<name>`): how it signs, the system it speaks for, and the
    environment variables of its secrets — the current one and, during a rotation, the next."""

    scheme: str
    system: Owner
    secret_envs: tuple[str, ...] = Field(min_length=1, max_length=2)
    tolerance_s: float = Field(default=300, gt=0)
    max_body_bytes: int = Field(default=256_000, gt=0)
    # Served only once its secret is set (a second webhook not every deployment has); otherwise,
    # as every source, `serve` refuses to start without it.
    optional: bool = False

    def configured(self, environ: Mapping[str, str] | None = None) -> bool:
        env = os.environ if environ is None else environ
        return any(env.get(name) for name in self.secret_envs)

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[SecretStr]:
        """The configured secrets that are set (unset or empty variables are skipped)."""
        env = os.environ if environ is None else environ
        found = [SecretStr(env[name]) for name in self.secret_envs if env.get(name)]
        if not found:
            raise ConfigError(f"no webhook secret set: export {' or '.join(self.secret_envs)}")
        return found

    @classmethod
    def rotating(cls, scheme: str, system: Owner, env: str, optional: bool = False) -> "SourceConfig":
        return cls(scheme=scheme, system=system, secret_envs=(env, f"{env}_NEXT"), optional=optional)
