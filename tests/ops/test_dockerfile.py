"""The Dockerfile: lint-clean (hadolint), multi-stage, non-root, and it installs pyproject's
package from what it copies in. No Docker engine runs on the build machines, so the build stage's
install is done here the way the Dockerfile does it, from the same files."""

import http.server
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc_sync.config import load_config
from tests.ops import tools
from tests.ops.test_kubernetes import config_without_deployment_keys

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HEALTHCHECK = ROOT / "deploy" / "container" / "healthcheck.py"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def test_hadolint_is_clean() -> None:
    done = subprocess.run(
        [str(tools.hadolint()), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nUSER root\n")
    done = subprocess.run([str(tools.hadolint()), "--no-color", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert {"DL3007", "DL3013", "DL3002"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_multi_stage_on_a_pinned_slim_python_the_project_supports() -> None:
    build, runtime = stages()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(part) for part in requires.removeprefix(">=").split("."))
    for stage in (build, runtime):
        image = stage[0][1].split()[0]
        match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-\w+", image)
        assert match, f"{image}: a slim python image pinned to its patch release"
        assert tuple(int(group) for group in match.groups()[:2]) >= minimum
    assert "--from=build" in " ".join(args for name, args in runtime if name == "COPY")
    assert not [args for name, args in runtime if name == "RUN" and "pip install" in args]


def test_runtime_runs_cdc_sync_as_a_non_root_user() -> None:
    runtime = stages()[-1]
    (user,) = [args for name, args in runtime if name == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    after = [name for name, _ in runtime][[name for name, _ in runtime].index("USER") :]
    assert "RUN" not in after, "nothing is built as root after the switch"
    entrypoint = next(args for name, args in runtime if name == "ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == f'["{next(iter(scripts))}"]'
    assert any(name == "HEALTHCHECK" for name, _ in runtime)


def test_no_secret_in_the_image_environment() -> None:
    env = " ".join(args for name, args in instructions() if name in ("ENV", "ARG"))
    names = re.findall(r"([A-Z_][A-Z0-9_]*)=", env)
    assert names
    assert not [name for name in names if re.search(r"DSN|PASSWORD|SECRET|TOKEN|_KEY\b|KEY$", name)]


def test_runtime_carries_config_connectors_and_contracts() -> None:
    copied = {args.split()[0] for name, args in stages()[-1] if name == "COPY" and not args.startswith("--")}
    assert {"config", "connectors", "schemas"} <= copied
    env = " ".join(args for name, args in stages()[-1] if name == "ENV")
    assert "CDC_SYNC_CONFIG=/app/config/container.toml" in env
    assert "CDC_SYNC_METRICS_HOST=0.0.0.0" in env
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert {".git", ".venv"} <= set(ignored)
    assert not {"config", "connectors", "schemas", "cdc_sync", "deploy"} & set(ignored)


def test_the_report_extra_is_optional() -> None:
    build = stages()[0]
    assert ("ARG", 'EXTRAS=""') in build
    (install,) = [args for name, args in build if name == "RUN" and "pip install" in args]
    assert '"/src${EXTRAS:+[$EXTRAS]}"' in install


def test_build_stage_installs_the_pyproject_package(tmp_path: Path) -> None:
    """What the build stage copies is enough to build cdc-sync itself: the same name, version,
    console script and package data as pyproject.toml declares."""
    src = tmp_path / "src"
    src.mkdir()
    for name, args in stages()[0]:
        if name == "COPY":
            *sources, _ = args.split()
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, src / source, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, src / source)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name.startswith(f"{project['name'].replace('-', '_')}-{project['version']}-")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "cdc-sync = cdc_sync.cli:main" in entry_points
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "cdc_sync").rglob("*.py")}
    assert modules <= names
    assert any(name.startswith("cdc_sync/console/templates/") for name in names)


def test_container_config_is_the_repo_config_but_for_listener_and_urls() -> None:
    path = ROOT / "deploy" / "container" / "cdc-sync.toml"
    assert config_without_deployment_keys(path.read_text()) == config_without_deployment_keys(
        (ROOT / "config" / "cdc-sync.toml").read_text()
    )
    config = load_config(path)
    assert config.server.host == "0.0.0.0"
    assert {d.base_url.split(":")[1] for d in config.destinations.values()} == {"//sandbox"}


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def health_port() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join()


@pytest.mark.parametrize(("path", "code"), [("/readyz", 0), ("/metrics", 1)])
def test_healthcheck_exits_by_the_answer(health_port: int, path: str, code: int) -> None:
    url = f"http://127.0.0.1:{health_port}{path}"
    done = subprocess.run([sys.executable, str(HEALTHCHECK), url], capture_output=True, check=False)
    assert done.returncode == code


def test_healthcheck_fails_when_nothing_listens(health_port: int) -> None:
    env = {"CDC_SYNC_HEALTHCHECK_URL": "http://127.0.0.1:1/readyz", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(HEALTHCHECK)], capture_output=True, env=env, check=False)
    assert done.returncode == 1
    assert (
        subprocess.run([sys.executable, str(HEALTHCHECK), "http://example.com/"], check=False).returncode == 2
    )
