"""Bring-your-own stack: `[kafka]` passed through to every Kafka client, its secrets from the
environment only (refused in the file, registered with the log redactor), and the registry's and
Connect's credentials and CA given to their HTTP clients."""

from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from confluent_kafka import KafkaError
from pydantic import SecretStr

from cdc_sync.config import KAFKA_SECRETS, AppConfig, KafkaConfig, load_config
from cdc_sync.endpoints import (
    HttpEndpoint,
    KafkaRefusals,
    connect_endpoint,
    kafka_client_config,
    registry_endpoint,
)
from cdc_sync.errors import ConfigError
from cdc_sync.observability.logs import Redactor, secret_fields
from cdc_sync.settings import Settings

MANAGED = """
[kafka]
security.protocol = "SASL_SSL"
sasl.mechanisms = "SCRAM-SHA-512"
sasl.username = "cdc-sync"
"ssl.ca.location" = "/etc/ssl/platform-ca.pem"
"socket.keepalive.enable" = true
"fetch.wait.max.ms" = 250
"""


def load(tmp_path: Path, text: str) -> AppConfig:
    path = tmp_path / "cdc-sync.toml"
    path.write_text(text)
    return load_config(path)


def settings(**values: Any) -> Settings:
    return Settings(kafka_bootstrap="broker-1.example:9096", **values)


def test_kafka_properties_pass_through_quoted_or_as_dotted_keys(tmp_path: Path) -> None:
    config = load(tmp_path, MANAGED)
    assert config.kafka.properties == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "cdc-sync",
        "ssl.ca.location": "/etc/ssl/platform-ca.pem",
        "socket.keepalive.enable": True,
        "fetch.wait.max.ms": 250,
    }
    assert load(tmp_path, "").kafka.properties == {}  # the local stack: plaintext, no auth


def test_the_client_config_is_bootstrap_properties_and_the_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, MANAGED)
    client = kafka_client_config(settings(kafka_sasl_password=SecretStr("pl4tform-pass")), config.kafka)
    assert client == {
        "bootstrap.servers": "broker-1.example:9096",
        **config.kafka.properties,
        "sasl.password": "pl4tform-pass",
    }
    assert "sasl.password" not in kafka_client_config(settings(), config.kafka)  # unset: not sent


@pytest.mark.parametrize(("prop", "env"), list(KAFKA_SECRETS.items()))
def test_a_secret_property_in_the_file_is_refused_naming_its_environment_variable(
    tmp_path: Path, prop: str, env: str
) -> None:
    with pytest.raises(ConfigError, match=f"{prop} is a secret .*: set it in {env}$") as refused:
        load(tmp_path, f'[kafka]\n"{prop}" = "t0p-secret"\n')
    assert "\n" not in str(refused.value) and "t0p-secret" not in str(refused.value)


def test_every_secret_property_has_its_setting() -> None:
    """The env var the refusal names is one Settings reads (so it is redacted from logs too)."""
    for prop, env in KAFKA_SECRETS.items():
        field = env.removeprefix("CDC_SYNC_").lower()
        value = SecretStr(f"value-of-{field}")
        assert (
            kafka_client_config(settings(**{field: value}), KafkaConfig())[prop] == value.get_secret_value()
        )


def test_any_other_password_or_secret_property_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ssl\.truststore\.password looks like a secret"):
        load(tmp_path, '[kafka]\nssl.truststore.password = "changeit"\n')


@pytest.mark.parametrize(
    ("prop", "where"),
    [("bootstrap.servers", "CDC_SYNC_KAFKA_BOOTSTRAP"), ("group.id", r"\[consumer\] group_id")],
)
def test_what_cdc_sync_sets_itself_is_refused_saying_where_it_comes_from(
    tmp_path: Path, prop: str, where: str
) -> None:
    with pytest.raises(ConfigError, match=f"{prop} is cdc-sync's own: set {where}"):
        load(tmp_path, f'[kafka]\n"{prop}" = "x"\n')


def test_a_kafka_value_is_a_string_number_or_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kafka"):
        load(tmp_path, '[kafka]\n"sasl.mechanisms" = ["PLAIN"]\n')


def test_the_stack_secrets_are_registered_with_the_log_redactor() -> None:
    configured = settings(
        kafka_sasl_password=SecretStr("kafka-pass-123"),
        registry_password=SecretStr("registry-pass-123"),
        registry_token=None,
        connect_password=SecretStr("connect-pass-123"),
    )
    redactor = Redactor()
    redactor.register(*secret_fields(configured))
    line = "sasl.password=kafka-pass-123 registry-pass-123 connect-pass-123"
    assert "pass-123" not in redactor.redact(line)


def test_kafka_refusals_keep_the_first_refusal_only() -> None:
    refusals = KafkaRefusals()
    refusals(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    refusals.check("b:9096")  # an outage is librdkafka's to retry
    refusals(KafkaError(KafkaError._SSL, "SSL handshake failed: certificate verify failed"))
    refusals(KafkaError(KafkaError._AUTHENTICATION, "later"))
    with pytest.raises(ConfigError, match=r"^Kafka at b:9096 refused the connection: SSL handshake failed"):
        refusals.check("b:9096")


def test_the_registry_client_sends_basic_auth_or_a_bearer_token() -> None:
    basic = registry_endpoint(settings(registry_username="cdc", registry_password=SecretStr("pw")))
    assert basic.client(5).auth is not None and "Authorization" not in basic.client(5).headers
    request = httpx.Request("GET", "https://registry.example/subjects")
    assert next(basic.client(5).auth.auth_flow(request)).headers["Authorization"].startswith("Basic ")  # type: ignore[union-attr]
    bearer = registry_endpoint(settings(registry_token=SecretStr("t0ken-abc")))
    assert bearer.client(5).headers["Authorization"] == "Bearer t0ken-abc" and bearer.client(5).auth is None
    assert "t0ken-abc" not in repr(bearer) and "pw" not in repr(basic)
    with pytest.raises(ConfigError, match="not both"):
        registry_endpoint(settings(registry_username="cdc", registry_token=SecretStr("t")))


def test_connect_gets_basic_auth_and_the_ca_bundle(tmp_path: Path) -> None:
    configured = settings(
        connect_username="ops", connect_password=SecretStr("pw"), connect_ca=Path(certifi.where())
    )
    endpoint = connect_endpoint(configured)
    assert endpoint == HttpEndpoint(configured.connect_url, "ops", "pw", None, Path(certifi.where()))
    assert endpoint.client(5).auth is not None
    missing = HttpEndpoint("https://connect.example", ca=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="cannot read the CA bundle"):
        missing.client(5)
