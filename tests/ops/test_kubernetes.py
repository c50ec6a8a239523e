"""deploy/kubernetes: every overlay renders (kustomize), validates against the real Kubernetes
schemas (kubeconform -strict), and keeps the properties README "Deploy" promises."""

import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cdc_sync.cli import cli
from cdc_sync.config import load_config
from tests.ops import tools

ROOT = Path(__file__).parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(path.name for path in (KUBERNETES / "overlays").iterdir() if path.is_dir())
# The oldest Kubernetes the manifests are meant for (PodDisruptionBudget policy/v1, the preStop
# sleep action) and the newest kubernetes-validate has schemas for.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
# Which database role (its DSN variable) each command runs as; nothing else may reach a pod.
ROLE_OF = {
    "run": {"CDC_SYNC_RUNNER_DSN"},
    "serve": {"CDC_SYNC_SERVE_DSN"},
    "writer": {"CDC_SYNC_WRITER_DSN"},
    "migrate": {"CDC_SYNC_OWNER_DSN", "CDC_SYNC_CRM_ADMIN_DSN", "CDC_SYNC_CRM_DSN"},
    "sandbox": set(),
}
SECRETS = {"cdc-sync-db", "cdc-sync-keys", "cdc-sync-vendors"}  # README "Deploy": create these


@cache
def rendered(overlay: str) -> str:
    done = subprocess.run(
        [str(tools.kustomize()), "build", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def documents(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents(overlay) if doc["kind"] == kind}


def workloads(overlay: str) -> dict[str, dict[str, Any]]:
    """Deployments and Jobs by component (run, serve, writer, migrate, sandbox)."""
    found = {**of_kind(overlay, "Deployment"), **of_kind(overlay, "Job")}
    return {doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc for doc in found.values()}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def schema_kind(doc: dict[str, Any]) -> str:
    """kubeconform's file name for the document's kind: deployment-apps-v1, service-v1, ..."""
    group, _, version = doc["apiVersion"].rpartition("/")
    return "-".join(part for part in (doc["kind"].lower(), group.split(".")[0], version) if part)


def kubeconform(manifests: str, version: str) -> subprocess.CompletedProcess[str]:
    """kubeconform -strict on `manifests` against Kubernetes `version`'s schemas, offline."""
    kinds = {schema_kind(doc) for doc in yaml.safe_load_all(manifests) if doc}
    location = tools.kubernetes_schemas(version, kinds)
    folder = "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
    schema = f"{location}/{folder}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    return subprocess.run(
        [
            str(tools.kubeconform()),
            "-strict",
            "-summary",
            "-kubernetes-version",
            version,
            "-schema-location",
            schema,
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_valid_for_kubernetes(overlay: str, version: str) -> None:
    done = kubeconform(rendered(overlay), version)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Valid: {len(documents(overlay))}, Invalid: 0, Errors: 0, Skipped: 0" in done.stdout


def test_kubeconform_rejects_what_kubernetes_would() -> None:
    """The validation is real: an unknown field and a wrong type are refused."""
    bad = yaml.safe_load(yaml.safe_dump(of_kind("dev", "Deployment")["cdc-sync-run"]))
    bad["spec"]["replicas"] = "two"
    container(bad)["livenesProbe"] = {}
    done = kubeconform(yaml.safe_dump(bad), KUBERNETES_VERSIONS[0])
    assert done.returncode == 1
    assert "Invalid: 1" in done.stdout
    assert "livenesProbe" in done.stdout and "/spec/replicas" in done.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_run_is_one_consumer_group_and_the_writer_is_one_pod(overlay: str) -> None:
    found = workloads(overlay)
    assert container(found["run"])["args"] == ["run"]
    assert found["run"]["spec"]["strategy"]["type"] == "RollingUpdate"
    writer = found["writer"]["spec"]
    assert writer["replicas"] == 1 and writer["strategy"] == {"type": "Recreate"}
    (config,) = [doc for doc in of_kind(overlay, "ConfigMap").values() if "cdc-sync.toml" in doc["data"]]
    group = tomllib.loads(config["data"]["cdc-sync.toml"])["consumer"]["group_id"]
    assert group, "every run replica reads this one file: one group"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serve_is_behind_a_service_ready_on_readyz(overlay: str) -> None:
    serve = workloads(overlay)["serve"]
    box = container(serve)
    assert box["args"] == ["serve", "--no-writer"]
    ports = {port["name"]: port["containerPort"] for port in box["ports"]}
    assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert ports["http"] == 8000  # [server] port
    service = of_kind(overlay, "Service")["cdc-sync-serve"]["spec"]
    assert service["selector"].items() <= serve["spec"]["template"]["metadata"]["labels"].items()
    assert {port["targetPort"] for port in service["ports"]} == {"http"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_pod_is_scraped_where_it_serves_metrics(overlay: str) -> None:
    for component in ("run", "serve", "writer"):
        template = workloads(overlay)[component]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        ports = {
            port["name"]: port["containerPort"] for port in container(workloads(overlay)[component])["ports"]
        }
        assert notes["prometheus.io/scrape"] == "true"
        assert int(notes["prometheus.io/port"]) == ports["metrics"], component
    assert int(container(workloads(overlay)["writer"])["args"][-1]) == ports["metrics"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_gets_its_own_database_role_and_secrets_only_by_reference(overlay: str) -> None:
    generated = set(of_kind(overlay, "Secret"))
    for component, workload in workloads(overlay).items():
        box = container(workload)
        dsns = {env["name"] for env in box.get("env", []) if env["name"].endswith("_DSN")}
        assert dsns == ROLE_OF[component], component
        for env in box.get("env", []):
            assert "value" not in env or not env["name"].endswith(("_DSN", "_KEY", "_SECRET", "_TOKEN"))
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] in generated or ref["name"] in SECRETS
    base = yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())
    assert "secretGenerator" not in base, "the base creates no secret: the operator does"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_and_drain_on_sigterm(overlay: str) -> None:
    for component, workload in workloads(overlay).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert container(workload)["securityContext"]["allowPrivilegeEscalation"] is False
        assert container(workload)["securityContext"]["readOnlyRootFilesystem"] is True
        if component in ("run", "writer"):
            assert pod["terminationGracePeriodSeconds"] >= 30, "time to drain and commit"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_cover_run_and_serve_only(overlay: str) -> None:
    labels = {
        component: workload["spec"]["template"]["metadata"]["labels"]
        for component, workload in workloads(overlay).items()
    }
    covered = set()
    for budget in of_kind(overlay, "PodDisruptionBudget").values():
        selector = budget["spec"]["selector"]["matchLabels"].items()
        covered |= {component for component, pod in labels.items() if selector <= pod.items()}
    assert covered == {"run", "serve"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_are_cdc_sync_commands(overlay: str) -> None:
    """Every container's arguments parse as cdc-sync's own CLI (a renamed option fails here)."""
    for component, workload in workloads(overlay).items():
        box = container(workload)
        if component == "migrate":
            assert box["command"] == ["sh", "-ec"]
            commands = [step.split()[1:] for step in box["args"][0].split(" && ")]
            assert commands == [["db", "migrate"], ["db", "grant"], ["connectors", "apply"]]
        else:
            commands = [box["args"]]
        for args in commands:
            result = CliRunner().invoke(cli, [*args, "--help"])
            assert result.exit_code == 0, (component, args, result.output)


def config_without_deployment_keys(text: str) -> dict[str, Any]:
    """The config with what a deployment changes taken out: the listener and the vendors' URLs."""
    document = tomllib.loads(text)
    document.pop("server", None)
    for destination in document.get("destinations", {}).values():
        destination.pop("base_url")
    return document


@pytest.mark.parametrize("path", ["base/cdc-sync.toml", "overlays/dev/cdc-sync.toml"])
def test_cluster_config_is_the_repo_config_but_for_listener_and_urls(path: str) -> None:
    text = (KUBERNETES / path).read_text()
    assert config_without_deployment_keys(text) == config_without_deployment_keys(
        (ROOT / "config" / "cdc-sync.toml").read_text()
    )
    assert tomllib.loads(text)["server"] == {"host": "0.0.0.0"}
    config = load_config(KUBERNETES / path)
    assert config.server.host == "0.0.0.0"


def test_dev_destinations_are_the_sandbox_service() -> None:
    service = of_kind("dev", "Service")["cdc-sync-sandbox"]["spec"]
    ports = {port["port"] for port in service["ports"]}
    config = tomllib.loads((KUBERNETES / "overlays" / "dev" / "cdc-sync.toml").read_text())
    for destination in config["destinations"].values():
        host, port = destination["base_url"].removeprefix("http://").split(":")
        assert host == "cdc-sync-sandbox" and int(port) in ports
    assert container(workloads("dev")["sandbox"])["args"] == ["sandbox", "--host", "0.0.0.0"]


def test_image_tag_is_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for overlay in OVERLAYS:
        images = {container(workload)["image"] for workload in workloads(overlay).values()}
        assert len(images) == 1 and images.pop().endswith(f":{version}"), overlay
