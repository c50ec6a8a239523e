"""Which vendors may call us, how each proves who it is, and where its secrets are.

Secrets live in environment variables only; a source names one or two of them (the current
secret and, during a rotation, the next one) so both are accepted while the vendor switches over.
"""

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cdc_sync.errors import ConfigError

Scheme = Literal["standard_webhooks", "zendesk", "url_secret"]
System = Literal["marketing", "helpdesk", "erp"]


class SourceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: Scheme
    system: System
    secret_envs: tuple[str, ...] = Field(min_length=1, max_length=2)
    tolerance_s: float = Field(default=300, gt=0)
    max_body_bytes: int = Field(default=256_000, gt=0)

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[SecretStr]:
        """The configured secrets that are set (unset or empty variables are skipped)."""
        env = os.environ if environ is None else environ
        found = [SecretStr(env[name]) for name in self.secret_envs if env.get(name)]
        if not found:
            raise ConfigError(f"no webhook secret set: export {' or '.join(self.secret_envs)}")
        return found


def _rotating(scheme: Scheme, system: System, env: str) -> SourceConfig:
    return SourceConfig(scheme=scheme, system=system, secret_envs=(env, f"{env}_NEXT"))


DEFAULT_SOURCES: dict[str, SourceConfig] = {
    "helpdesk": _rotating("zendesk", "helpdesk", "CDC_SYNC_HELPDESK_WEBHOOK_SECRET"),
    "erp": _rotating("standard_webhooks", "erp", "CDC_SYNC_ERP_WEBHOOK_SECRET"),
    # Engagement events (opens, clicks) arrive signed; Mailchimp's list webhooks cannot be signed.
    "marketing": _rotating("standard_webhooks", "marketing", "CDC_SYNC_MARKETING_WEBHOOK_SECRET"),
    "marketing-lists": _rotating("url_secret", "marketing", "CDC_SYNC_MARKETING_LIST_SECRET"),
}
