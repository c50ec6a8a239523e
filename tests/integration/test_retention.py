"""`cdc-sync prune` on the real state database: what is older than `[retention]` allows goes,
what is younger stays, and so do events still waiting and open dead letters."""

import json
import signal
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import Engine, text

from tests.integration.outbound_fixtures import CLI, ROOT, Process

OLD, YOUNG = "40 days", "1 day"


def prune(config: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [CLI, "--config", str(config), "prune", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def seed(state: Engine, run: str) -> None:
    """Rows of each kind, old and young, all named by `run`."""
    statements = [
        *(
            "INSERT INTO cdc_sync.deliveries (at, destination, entity, table_name, operation, "
            "idempotency_key, attempt, outcome, latency_ms) "
            f"VALUES (now() - interval '{age}', 'marketing', :e || '-{age}', "
            "'public.contacts', 'member.upsert', :e, 1, 'ok', 1)"
            for age in (OLD, YOUNG)
        ),
        *(
            "INSERT INTO cdc_sync.inbox (received_at, source, event_id, kind, entity, occurred_at, data, "
            f"status) VALUES (now() - interval '{age}', 'marketing', :e || '-{status}-{age}', "
            f"'email.clicked', :e, now(), '{{}}', '{status}')"
            for age, status in ((OLD, "done"), (OLD, "pending"), (OLD, "unmatched"), (YOUNG, "done"))
        ),
        *(
            "INSERT INTO cdc_sync.dead_letters (at, entity, reason, status, resolved_at) VALUES "
            f"(now() - interval '{OLD}', :e, '{status}-{resolved}', '{status}', "
            + ("NULL" if resolved == "never" else f"now() - interval '{resolved}'")
            + ")"
            for status, resolved in (("replayed", OLD), ("open", "never"), ("discarded", YOUNG))
        ),
        *(
            f"INSERT INTO cdc_sync.audit_log (at, actor, action, object) VALUES (now() - interval '{age}', "
            f"'test', 'test.{age.replace(' ', '_')}', :e)"
            for age in (OLD, YOUNG)
        ),
    ]
    with state.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"e": run})


def left(state: Engine, run: str) -> dict[str, list[str]]:
    queries = {
        "deliveries": "SELECT entity FROM cdc_sync.deliveries WHERE idempotency_key = :e",
        "inbox": "SELECT event_id FROM cdc_sync.inbox WHERE entity = :e",
        "dead_letters": "SELECT reason FROM cdc_sync.dead_letters WHERE entity = :e",
        "audit_log": "SELECT action FROM cdc_sync.audit_log WHERE object = :e",
    }
    with state.connect() as conn:
        return {
            name: sorted(str(row[0]) for row in conn.execute(text(sql), {"e": run}))
            for name, sql in queries.items()
        }


@contextmanager
def writer_stopped(writer: Process) -> Iterator[None]:
    """The session's writer frozen (SIGSTOP): it would apply the seeded pending event meanwhile."""
    assert writer.process is not None
    writer.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        writer.process.send_signal(signal.SIGCONT)


def test_prune_removes_only_what_is_older_than_the_limits_and_not_waiting(
    state: Engine, inbound: Process, tmp_path: Path
) -> None:
    config = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["retention"] = {"ledger_days": 30, "inbox_days": 30, "dead_letters_days": 30, "audit_days": 30}
    path = tmp_path / "retention.toml"
    path.write_text(tomli_w.dumps(config))
    run = f"prune-{uuid.uuid4().hex[:8]}"
    with writer_stopped(inbound):
        seed(state, run)
        before = left(state, run)
        counted = prune(path, "--dry-run")
        assert counted["dry_run"] and all(counted["removed"][table] >= 1 for table in before)
        assert left(state, run) == before  # a dry run removes nothing
        removed = prune(path)
        kept = left(state, run)

    assert set(removed["removed"]) == set(before) and all(n >= 1 for n in removed["removed"].values())
    waiting_or_young = ((OLD, "pending"), (OLD, "unmatched"), (YOUNG, "done"))
    assert kept == {
        "deliveries": [f"{run}-{YOUNG}"],
        "inbox": sorted(f"{run}-{status}-{age}" for age, status in waiting_or_young),
        "dead_letters": ["discarded-1 day", "open-never"],
        "audit_log": ["test.1_day"],
    }
