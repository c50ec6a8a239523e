"""How cdc-sync reaches the platform's Kafka, schema registry and Kafka Connect: the one place that
turns settings (environment) and `[kafka]` (config file) into client configuration.

Every Kafka consumer, producer and admin client starts from `kafka_client_config`; every HTTP
client of the registry or Connect from `HttpEndpoint.client`.
"""

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaError

from cdc_sync.config import KAFKA_SECRETS, KafkaConfig
from cdc_sync.errors import ConfigError
from cdc_sync.settings import Settings

# librdkafka's errors that no retry mends: the broker refused the credentials, or TLS failed
# (an unknown CA, a plaintext port). It retries them for ever; cdc-sync stops with the reason.
REFUSED = {KafkaError._AUTHENTICATION, KafkaError._SSL}


def kafka_secrets(settings: Settings) -> dict[str, str]:
    """The secret properties set in the environment (`config.KAFKA_SECRETS`)."""
    values = {
        prop: getattr(settings, env.removeprefix("CDC_SYNC_").lower()) for prop, env in KAFKA_SECRETS.items()
    }
    return {prop: value.get_secret_value() for prop, value in values.items() if value is not None}


def kafka_client_config(settings: Settings, kafka: KafkaConfig) -> dict[str, Any]:
    """The properties every Kafka client of cdc-sync starts from; a client adds its own."""
    return {"bootstrap.servers": settings.kafka_bootstrap, **kafka.properties, **kafka_secrets(settings)}


class KafkaRefusals:
    """librdkafka's `error_cb`: remembers a refusal (`REFUSED`) so the caller can stop on it."""

    def __init__(self) -> None:
        self.first: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        if self.first is None and error.code() in REFUSED:
            self.first = error

    def check(self, bootstrap: str) -> None:
        if self.first is not None:
            raise ConfigError(
                f"Kafka at {bootstrap} refused the connection: {self.first.str()} (see [kafka])"
            )


def with_refusals(config: dict[str, Any]) -> tuple[dict[str, Any], KafkaRefusals]:
    refusals = KafkaRefusals()
    return {**config, "error_cb": refusals}, refusals


@dataclass(frozen=True)
class HttpEndpoint:
    """An HTTP API of the stack: its URL, credentials (basic or bearer) and CA bundle."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca: Path | None = None

    def client(self, timeout_s: float) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(
            base_url=self.url, timeout=timeout_s, auth=self._auth(), headers=headers, verify=self._verify()
        )

    def _auth(self) -> httpx.BasicAuth | None:
        return httpx.BasicAuth(self.username, self.password or "") if self.username else None

    def _verify(self) -> ssl.SSLContext | bool:
        if self.ca is None:
            return True
        try:
            return ssl.create_default_context(cafile=str(self.ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot read the CA bundle {self.ca}: {exc}") from exc


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def registry_endpoint(settings: Settings) -> HttpEndpoint:
    if settings.registry_token and settings.registry_username:
        raise ConfigError("set CDC_SYNC_REGISTRY_USERNAME/_PASSWORD or CDC_SYNC_REGISTRY_TOKEN, not both")
    return HttpEndpoint(
        settings.registry_url,
        settings.registry_username,
        _secret(settings.registry_password),
        _secret(settings.registry_token),
        settings.registry_ca,
    )


def connect_endpoint(settings: Settings) -> HttpEndpoint:
    return HttpEndpoint(
        settings.connect_url,
        settings.connect_username,
        _secret(settings.connect_password),
        ca=settings.connect_ca,
    )
