"""`pip install cdc-sync` (the wheel) works outside the repository: the CLI, its packaged files,
and a clear error where the repository's files are missing."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the repository, installed with its dependencies in a new venv."""
    base = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = base.glob("cdc_sync-*.whl")
    venv.create(base / "venv", with_pip=True)
    pip = subprocess.run(
        [str(base / "venv" / "bin" / "pip"), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert pip.returncode == 0, pip.stderr
    return wheel


def cli(wheel: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("CDC_SYNC_")}
    binary = wheel.parent / "venv" / "bin" / "cdc-sync"
    return subprocess.run(
        [str(binary), *args],
        cwd=wheel.parent,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_wheel_carries_the_license_the_console_and_the_migrations(installed: Path) -> None:
    names = zipfile.ZipFile(installed).namelist()
    assert any(name.endswith("licenses/LICENSE") for name in names)
    assert "cdc_sync/console/templates/base.html" in names and "cdc_sync/console/static/console.js" in names
    assert "cdc_sync/store/migrations/env.py" in names
    assert any(name.startswith("cdc_sync/store/migrations/versions/v0001") for name in names)


def test_the_cli_runs_outside_the_repository_without_the_report_extra(installed: Path) -> None:
    helped = cli(installed, "--help")
    assert helped.returncode == 0 and "Usage: cdc-sync" in helped.stdout
    assert cli(installed, "db", "history").stdout.startswith("0001  ")  # the migrations are packaged


def test_a_missing_config_is_one_line_naming_the_flag_and_the_variable(installed: Path) -> None:
    done = cli(installed, "run")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pass --config PATH or set CDC_SYNC_CONFIG" in done.stderr
