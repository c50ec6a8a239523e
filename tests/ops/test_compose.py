"""docker-compose.cdc.yml describes the same stack as ops/stack.sh."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cdc_sync.cli import cli
from tests.ops import tools

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


APP = ("migrate", "run", "serve", "writer", "sandbox")  # profile `app`: cdc-sync from the Dockerfile
# The database role (DSN variable → role) each cdc-sync service runs as; no other DSN reaches it.
ROLES = {
    "migrate": {
        "CDC_SYNC_OWNER_DSN": "cdc_owner",
        "CDC_SYNC_CRM_ADMIN_DSN": "crm_owner",
        "CDC_SYNC_CRM_DSN": "cdc_operator",
    },
    "run": {"CDC_SYNC_RUNNER_DSN": "cdc_runner"},
    "serve": {"CDC_SYNC_SERVE_DSN": "cdc_serve"},
    "writer": {"CDC_SYNC_WRITER_DSN": "cdc_writer"},
    "sandbox": {},
}


def test_the_compose_file_parses_under_the_compose_specification() -> None:
    """A strict parser of the Compose specification (unknown keys and bad values fail), since no
    `docker compose config` runs without an engine here."""
    parser = tools.compose_parser()
    parsed = parser.from_yaml((ROOT / "docker-compose.cdc.yml").read_text())
    assert set(parsed.service_names()) == set(compose()["services"])
    with pytest.raises(ValueError, match="restart"):
        parser.from_yaml("services:\n  a:\n    image: a:1\n    restart: sometimes\n")


def test_postgres_is_the_native_stacks_major_version() -> None:
    (major,) = re.findall(r"^\| PostgreSQL (\d+) ", (ROOT / "README.md").read_text(), re.M)
    image = compose()["services"]["postgres"]["image"]
    assert image.rsplit(":", 1)[1].split(".")[0] == major


def test_every_long_running_service_has_a_healthcheck_and_restarts() -> None:
    for name, service in compose()["services"].items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_services_wait_for_what_they_need_to_be_healthy() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if needed == "migrate" else "service_healthy"
            assert condition == {"condition": wanted}, (name, needed)
            assert "healthcheck" in services[needed] or needed == "migrate"
    for name in ("run", "serve", "writer"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_data_lives_in_named_volumes() -> None:
    document = compose()
    assert {"pgdata", "kafkadata"} <= set(document["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in document["services"]["postgres"]["volumes"]
    kafka = document["services"]["kafka"]
    assert f"kafkadata:{kafka['environment']['KAFKA_LOG_DIRS']}" in kafka["volumes"]


def test_cdc_sync_services_are_built_from_the_dockerfile_with_their_own_role() -> None:
    services = compose()["services"]
    defaults = native_defaults()
    password_of = {
        role: name.removeprefix("CDC_SYNC_").removesuffix("_PASSWORD")
        for role, name in [
            ("cdc_owner", "CDC_SYNC_OWNER_PASSWORD"),
            ("crm_owner", "CDC_SYNC_CRM_OWNER_PASSWORD"),
            ("cdc_operator", "CDC_SYNC_OPERATOR_PASSWORD"),
            ("cdc_runner", "CDC_SYNC_RUNNER_PASSWORD"),
            ("cdc_serve", "CDC_SYNC_SERVE_PASSWORD"),
            ("cdc_writer", "CDC_SYNC_WRITER_PASSWORD"),
        ]
    }
    shared = dotenv(ROOT / "ops" / "compose" / "cdc-sync.env")
    assert not [key for key in shared if key.endswith("_DSN")], "a DSN is per service"
    for name in APP:
        service = services[name]
        assert service["profiles"] == ["app"]
        assert service["build"]["context"] == "." and (ROOT / "Dockerfile").is_file()
        env = service["environment"]
        dsns = {key: value for key, value in env.items() if key.endswith("_DSN")}
        assert set(dsns) == set(ROLES[name]), name
        for key, role in ROLES[name].items():
            variable = password_of[role]
            default = defaults[f"CDC_SYNC_{variable}_PASSWORD"]
            expected = (
                f"postgresql+psycopg://{role}:${{CDC_SYNC_{variable}_PASSWORD:-{default}}}@postgres:5432/crm"
            )
            assert dsns[key] == expected


def dotenv(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_shared_settings_match_the_native_stacks_dev_values() -> None:
    """The same sandbox credentials and dev keys as `ops/stack.sh env`, hosts inside compose."""
    native = subprocess.run(
        [str(ROOT / "ops" / "stack.sh"), "env"], capture_output=True, text=True, check=True
    )
    stack = dotenv_text(native.stdout)
    shared = dotenv(ROOT / "ops" / "compose" / "cdc-sync.env")
    for key, value in shared.items():
        if "127.0.0.1" in stack[key]:
            assert value.split("//")[-1].split(":")[0] in {"kafka", "connect", "registry", "sandbox"}, key
        else:
            assert value == stack[key], key


def dotenv_text(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_healthchecks_probe_the_port_each_process_serves() -> None:
    services = compose()["services"]
    for name, port in {"run": 9108, "serve": 8000, "writer": 9110, "sandbox": 9101}.items():
        url = services[name]["environment"]["CDC_SYNC_HEALTHCHECK_URL"]
        assert url.startswith(f"http://127.0.0.1:{port}/"), name
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py"]
    assert services["serve"]["environment"]["CDC_SYNC_HEALTHCHECK_URL"].endswith("/readyz")
    assert services["writer"]["command"] == ["writer", "--metrics-port", "9110"]


def test_app_commands_are_cdc_sync_commands() -> None:
    services = compose()["services"]
    steps = [step.split()[1:] for step in services["migrate"]["command"][0].split(" && ")]
    assert steps == [["db", "migrate"], ["db", "grant"], ["connectors", "apply"]]
    for args in [*steps, *(services[name]["command"] for name in APP if name != "migrate")]:
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
