"""docker-compose.cdc.yml describes the same stack as ops/stack.sh."""

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.cdc.yml").read_text())
    assert isinstance(document, dict)
    return document


def native_defaults() -> dict[str, str]:
    text = (ROOT / "ops" / "stack.env").read_text()
    return dict(re.findall(r': "\$\{(CDC_SYNC_\w+):=([^}]*)\}"', text))


def published_port(service: dict[str, Any]) -> int:
    (mapping,) = service["ports"]
    host, port, container = mapping.rsplit(":", 2)
    assert host == "127.0.0.1", "the stack listens on loopback only"
    assert port == container
    return int(port)


def native_stack() -> dict[str, Any]:
    """The services ops/stack.sh also runs; opt-in profiles (monitoring) are extra."""
    return {name: service for name, service in compose()["services"].items() if "profiles" not in service}


def test_same_services_on_the_same_ports() -> None:
    services = native_stack()
    defaults = native_defaults()
    expected = {
        "postgres": defaults["CDC_SYNC_PG_PORT"],
        "kafka": defaults["CDC_SYNC_KAFKA_PORT"],
        "connect": defaults["CDC_SYNC_CONNECT_PORT"],
        "registry": defaults["CDC_SYNC_REGISTRY_PORT"],
    }
    assert set(services) == set(expected)
    assert {name: published_port(service) for name, service in services.items()} == {
        name: int(port) for name, port in expected.items()
    }


def test_connect_defines_every_variable_the_connector_configs_read() -> None:
    connect_env = compose()["services"]["connect"]["environment"]
    wanted = set()
    for path in (ROOT / "connectors").glob("*.json"):
        wanted |= set(re.findall(r"\$\{env:(\w+)\}", path.read_text()))
    assert wanted, "connector configs take their secrets and hosts from the environment"
    assert wanted <= set(connect_env)


def test_versions_match_the_native_pom() -> None:
    pom = (ROOT / "ops" / "pom.xml").read_text()
    version = dict(re.findall(r"<(kafka|debezium|apicurio)\.version>([^<]+)<", pom))
    services = compose()["services"]
    assert services["kafka"]["image"].endswith(f":{version['kafka']}")
    assert services["connect"]["image"].endswith(f":{version['debezium']}")
    assert services["registry"]["image"].endswith(f":{version['apicurio']}")


def test_dev_passwords_agree_with_the_native_stack() -> None:
    defaults = native_defaults()
    postgres_env = compose()["services"]["postgres"]["environment"]
    roles = ("CRM_OWNER", "DEBEZIUM", "OWNER", "SERVE", "WRITER", "RUNNER", "OPERATOR", "AUDITOR")
    for name in (f"CDC_SYNC_{role}_PASSWORD" for role in roles):
        assert postgres_env[name] == f"${{{name}:-{defaults[name]}}}"


def test_monitoring_listens_on_loopback_and_mounts_files_that_exist() -> None:
    services = compose()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert "--web.listen-address=127.0.0.1:9090" in prometheus["command"]
    assert grafana["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    for service in (prometheus, grafana):
        assert service["profiles"] == ["monitoring"]
        for volume in service["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume
    assert (ROOT / "ops" / "prometheus" / "prometheus.yml").is_file()
