"""Bad arguments are one readable line on stderr and exit 2, before anything is contacted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdc_sync.sealing import new_key_text

CLI = str(Path(sys.executable).parent / "cdc-sync")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["offsets", "rewind", "--topic", "crm.public.contacts"], "give exactly one of --to-offset"),
        (["offsets", "rewind", "--topic", "t", "--to-offset", "1", "--shift", "-1"], "give exactly one"),
        (["offsets", "rewind", "--topic", "t", "--shift", "5"], "--shift must be negative"),
        (["dlq", "discard", "7"], "Missing option '--reason'"),
        (["dlq", "replay"], "ID"),
        (["audit", "--since", "last tuesday"], "ISO 8601"),
        (["report", "--since", "yesterday"], "ISO 8601"),
        (["reconcile", "--object", "ticket:4"], "not contact:<id>"),
        (["inbox", "replay"], "name inbox ids or give --all"),
        (["inbox", "replay", "4", "--all"], "name inbox ids or give --all"),
        (["inbox", "list", "--status", "lost"], "'lost' is not one of"),
        (["calls", "resolve", "seven"], "'seven' is not a valid integer"),
        (["agents", "map", "a-1"], "Missing argument 'USER'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and says in done.stderr
    assert done.stdout == ""


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    dsn = "postgresql+psycopg://cdc_writer:pw-canary@127.0.0.1:1/crm"
    # No role of its own (CDC_SYNC_AUDITOR_DSN, ...) either: every process falls back to this DSN.
    others = {name: value for name, value in os.environ.items() if not name.endswith("_DSN")}
    env = {**others, "CDC_SYNC_CRM_DSN": dsn, "CDC_SYNC_DATA_KEY": new_key_text()}
    done = subprocess.run([CLI, "audit"], capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the database") and done.stderr.count("\n") == 1
    assert "pw-canary" not in done.stderr
