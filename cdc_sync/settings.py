"""The one settings object: environment (prefix CDC_SYNC_) with defaults for the local stack."""

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_ADMIN_DSN = "postgresql+psycopg://crm_owner:crm-owner-dev@127.0.0.1:5432/crm"
_DEV_WRITER_DSN = "postgresql+psycopg://cdc_writer:cdc-writer-dev@127.0.0.1:5432/crm"


class Settings(BaseSettings):
    """Where the stack is. Defaults match `ops/stack.sh` on loopback; override by environment."""

    model_config = SettingsConfigDict(env_prefix="CDC_SYNC_", frozen=True)

    crm_dsn: SecretStr = SecretStr(_DEV_WRITER_DSN)
    crm_admin_dsn: SecretStr = SecretStr(_DEV_ADMIN_DSN)
    kafka_bootstrap: str = "127.0.0.1:9092"
    connect_url: str = "http://127.0.0.1:8083"
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    connectors_dir: Path = Path("connectors")
    config: Path = Path("config/cdc-sync.toml")
    topic_prefix: str = "crm"
    events_token: SecretStr | None = None  # Bearer token of `GET /events/{channel}` on serve; unset: off
    # Encryption at rest of payload columns (cdc_sync.data_keys): the key that seals, base64 of 32
    # bytes, given here or in a file; the previous one still opens during a rotation.
    data_key: SecretStr | None = None
    data_key_file: Path | None = None
    data_key_previous: SecretStr | None = None
    data_key_previous_file: Path | None = None
    plaintext_at_rest: bool = False  # no key: store payloads in clear (only when chosen)
