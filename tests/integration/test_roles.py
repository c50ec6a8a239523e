"""Least privilege on the real database: each process's role can do its job and nothing else, and
the audit log is append-only, its hash chain showing a row forged by the database's owner."""

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Process, Settings
from cdc_sync.store.audit import audit
from tests.integration.outbound_fixtures import CLI, ROOT


@pytest.fixture(scope="module")
def roles(settings: Settings) -> Iterator[dict[Process, Engine]]:
    engines: dict[Process, Engine] = {
        process: state_engine(settings, process)
        for process in ("owner", "serve", "writer", "runner", "operator")
    }
    engines["auditor"] = create_engine(os.environ["CDC_SYNC_AUDITOR_DSN"])
    yield engines
    for engine in engines.values():
        engine.dispose()


def refused(engine: Engine, statement: str) -> str:
    """The database's refusal of `statement` (rolled back either way)."""
    with engine.connect() as conn, pytest.raises(ProgrammingError) as refusal:
        conn.execute(text(statement))
    assert "permission denied" in str(refusal.value.orig)
    return str(refusal.value.orig)


def allowed(engine: Engine, statement: str) -> None:
    with engine.connect() as conn:
        conn.execute(text(statement))
        conn.rollback()


def test_each_process_connects_as_its_own_role(roles: dict[Process, Engine]) -> None:
    users = {}
    for process, engine in roles.items():
        with engine.connect() as conn:
            users[process] = conn.execute(text("SELECT current_user")).scalar()
    assert users == {
        "owner": "cdc_owner",
        "serve": "cdc_serve",
        "writer": "cdc_writer",
        "runner": "cdc_runner",
        "operator": "cdc_operator",
        "auditor": "cdc_auditor",
    }


def test_serve_cannot_touch_the_crm_or_read_delivery_state(roles: dict[Process, Engine]) -> None:
    serve = roles["serve"]
    refused(serve, "UPDATE contacts SET first_name = first_name WHERE id = 1")
    refused(serve, "SELECT 1 FROM contacts LIMIT 1")
    refused(serve, "SELECT 1 FROM cdc_sync.deliveries LIMIT 1")
    refused(serve, "SELECT data FROM cdc_sync.inbox LIMIT 1")
    refused(serve, "SELECT payload FROM cdc_sync.dead_letters LIMIT 1")
    allowed(
        serve,
        "INSERT INTO cdc_sync.inbox (source, event_id, kind, entity, occurred_at, data) "
        f"VALUES ('marketing', 'roles-{uuid.uuid4().hex}', 'email.clicked', 'contact:1', now(), '{{}}') "
        "RETURNING source, event_id",
    )


def test_the_writer_writes_only_tables_its_handlers_write(roles: dict[Process, Engine]) -> None:
    writer = roles["writer"]
    refused(writer, "UPDATE users SET name = name")  # no handler writes users
    refused(writer, "INSERT INTO orders (order_no, amount) VALUES ('roles-test', 1)")
    refused(writer, "DELETE FROM contacts WHERE id = -1")  # nothing deletes CRM rows
    refused(writer, "UPDATE consent_evidence SET status = status")  # evidence is appended, never changed
    refused(writer, "SELECT 1 FROM cdc_sync.deliveries LIMIT 1")
    refused(writer, "CREATE TABLE cdc_sync.roles_test (id int)")
    allowed(writer, "UPDATE tickets SET status = status WHERE id = -1")
    allowed(writer, "UPDATE subscriptions SET status = status WHERE contact_id = -1")


def test_the_runner_reads_the_crm_and_writes_none_of_it(roles: dict[Process, Engine]) -> None:
    runner = roles["runner"]
    allowed(runner, "SELECT id, email FROM contacts LIMIT 1")
    refused(runner, "UPDATE contacts SET first_name = first_name WHERE id = -1")
    refused(runner, "SELECT 1 FROM cdc_sync.operators LIMIT 1")  # the console's password hashes


def test_no_service_role_changes_or_deletes_audit_rows(roles: dict[Process, Engine]) -> None:
    for process in ("serve", "writer", "runner", "operator", "auditor"):
        refused(roles[process], "UPDATE cdc_sync.audit_log SET actor = 'mallory' WHERE id = -1")
        refused(roles[process], "DELETE FROM cdc_sync.audit_log WHERE id = -1")
    refused(roles["auditor"], "INSERT INTO cdc_sync.audit_log (actor, action) VALUES ('a', 'b')")
    allowed(roles["auditor"], "SELECT actor, action, details FROM cdc_sync.audit_log LIMIT 1")


def verify(from_id: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "audit", "verify", "--from", str(from_id)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_audit_verify_names_a_row_the_owner_forged(roles: dict[Process, Engine]) -> None:
    owner, operator = roles["owner"], roles["operator"]
    with operator.connect() as conn:
        start = int(
            conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM cdc_sync.audit_log")).scalar_one()
        )
    for n in range(3):
        audit(
            operator, "roles-test", "dlq.replay", f"contact:{n}", {"status": "open"}, {"status": "replayed"}
        )
    intact = verify(start)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit chain intact" in intact.stdout

    with owner.begin() as conn:  # what the table's owner can still do: a row cdc-sync never wrote
        forged = conn.execute(
            text(
                "INSERT INTO cdc_sync.audit_log (actor, action, object, prev_hash, hash) "
                "SELECT 'roles-test', 'dlq.discard', 'contact:0', hash, 'hmac-sha256:' || md5('x') "
                "FROM cdc_sync.audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1 RETURNING id"
            )
        ).scalar_one()
    try:
        broken = verify(start)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert f"audit row {forged}: its contents do not match its hash" in broken.stdout
    finally:
        with owner.begin() as conn:
            conn.execute(text("DELETE FROM cdc_sync.audit_log WHERE id = :id"), {"id": forged})


def test_a_command_refuses_a_database_that_was_not_migrated(settings: Settings) -> None:
    elsewhere = make_url(settings.crm_admin_dsn.get_secret_value()).set(database="registry")
    env = {**os.environ, "CDC_SYNC_CRM_DSN": elsewhere.render_as_string(hide_password=False)}  # no cdc_sync
    done = subprocess.run(
        [CLI, "deliveries", "--last", "5"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 2
    assert "run `cdc-sync db migrate`" in done.stderr
