"""The one settings object: environment (prefix CDC_SYNC_) with defaults for the local stack."""

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_ADMIN_DSN = "postgresql+psycopg://crm_owner:crm-owner-dev@127.0.0.1:5432/crm"
_DEV_OPERATOR_DSN = "postgresql+psycopg://cdc_operator:cdc-operator-dev@127.0.0.1:5432/crm"


class Settings(BaseSettings):
    """Where the stack is. Defaults match `ops/stack.sh` on loopback; override by environment."""

    model_config = SettingsConfigDict(env_prefix="CDC_SYNC_", frozen=True)

    crm_dsn: SecretStr = SecretStr(_DEV_OPERATOR_DSN)  # operator commands; any role below unset
    # One database role per process (store.grants); each unset one falls back to crm_dsn.
    owner_dsn: SecretStr | None = None  # `db migrate`: owns schema cdc_sync
    serve_dsn: SecretStr | None = None  # serve's webhook side: appends to the inbox
    writer_dsn: SecretStr | None = None  # the inbound writer (in serve, or `cdc-sync writer`)
    runner_dsn: SecretStr | None = None  # `run`
    auditor_dsn: SecretStr | None = None  # `audit` and `audit verify`: reads the log, nothing else
    audit_key: SecretStr | None = None  # keys the audit log's hash chain (store.audit)
    crm_admin_dsn: SecretStr = SecretStr(_DEV_ADMIN_DSN)
    kafka_bootstrap: str = "127.0.0.1:9092"
    # The secrets of `[kafka]` (config.KAFKA_SECRETS): librdkafka's property of the same name.
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_keystore_password: SecretStr | None = None
    kafka_sasl_oauthbearer_client_secret: SecretStr | None = None
    kafka_ssl_key_pem: SecretStr | None = None
    connect_url: str = "http://127.0.0.1:8083"
    connect_username: str | None = None  # HTTP basic auth of the Connect REST API, with its password
    connect_password: SecretStr | None = None
    connect_ca: Path | None = None  # CA bundle (PEM) the Connect URL's certificate is checked against
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    registry_username: str | None = None  # HTTP basic auth of the registry, with its password
    registry_password: SecretStr | None = None
    registry_token: SecretStr | None = None  # or a bearer token
    registry_ca: Path | None = None  # CA bundle (PEM) the registry URL's certificate is checked against
    connectors_dir: Path = Path("connectors")
    config: Path = Path("config/cdc-sync.toml")
    topic_prefix: str = "crm"
    metrics_host: str = "127.0.0.1"  # the admin listeners' address (/metrics); 0.0.0.0 in a container
    events_token: SecretStr | None = None  # Bearer token of `GET /events/{channel}` on serve; unset: off
    # Encryption at rest of payload columns (cdc_sync.data_keys): the key that seals, base64 of 32
    # bytes, given here or in a file; the previous one still opens during a rotation.
    data_key: SecretStr | None = None
    data_key_file: Path | None = None
    data_key_previous: SecretStr | None = None
    data_key_previous_file: Path | None = None
    plaintext_at_rest: bool = False  # no key: store payloads in clear (only when chosen)

    def dsn(self, process: "Process") -> SecretStr:
        """The DSN of `process`'s database role (crm_dsn when it has none of its own)."""
        own = {
            "owner": self.owner_dsn,
            "serve": self.serve_dsn,
            "writer": self.writer_dsn,
            "runner": self.runner_dsn,
            "auditor": self.auditor_dsn,
        }
        return own.get(process) or self.crm_dsn


Process = Literal["owner", "serve", "writer", "runner", "operator", "auditor"]
