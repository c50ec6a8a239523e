"""Least privilege in the database: one role per process, and the grants that make it so.

cdc-sync's own schema (`cdc_sync`) is owned by the migration role, which grants the service roles
what `STATE` says each time `cdc-sync db migrate` runs. The CRM's tables belong to the CRM's owner:
`cdc-sync db grant` (run with the CRM owner's DSN, or printed for the DBA with `--print`) grants
SELECT on them to the services and INSERT/UPDATE only on the tables the vendors' handlers and
operator commands write (`CRM_WRITES`, `COMMAND_WRITES`, declared by each vendor's plugin).

The audit log is append-only for every service role: INSERT, and SELECT of the chain's columns
only (`store.audit`); rows go only through `prune_audit`, oldest first, by the retention rule.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, text

from cdc_sync.store.tables import SCHEMA

OWNER, SERVE, WRITER, RUNNER, OPERATOR, AUDITOR = (
    "cdc_owner",
    "cdc_serve",
    "cdc_writer",
    "cdc_runner",
    "cdc_operator",
    "cdc_auditor",
)
SERVICE_ROLES = (SERVE, WRITER, RUNNER, OPERATOR, AUDITOR)
ALL_DML = "SELECT, INSERT, UPDATE, DELETE"
_CHAIN = "SELECT (id, at, hash)"  # enough to extend the chain and count what to prune, not to read it
_DEPTHS = "SELECT (destination, status, at)"  # dead-letter depth gauges, not their payloads

# Role → cdc_sync table → privileges. Tables not named get nothing.
STATE: Mapping[str, Mapping[str, str]] = {
    SERVE: {
        "alembic_version": "SELECT",
        "inbox": "INSERT, SELECT (source, event_id)",  # ON CONFLICT DO NOTHING RETURNING source, event_id
        "alerts": "SELECT, INSERT, UPDATE",  # refused webhooks, one row a minute with a count
        "dead_letters": _DEPTHS,
    },
    WRITER: {
        "alembic_version": "SELECT",
        "inbox": "SELECT, UPDATE",
        "conflicts": "SELECT, INSERT, UPDATE",
        "field_versions": "SELECT, INSERT, UPDATE",
        "vendor_refs": "SELECT",
        "merge_reviews": "SELECT, INSERT, UPDATE",
        "alerts": "SELECT, INSERT, UPDATE",
        "dead_letters": _DEPTHS,
        "audit_log": f"INSERT, {_CHAIN}",
    },
    RUNNER: {
        "alembic_version": "SELECT",
        "deliveries": ALL_DML,  # DELETE: the retention schedule in `run`
        "dead_letters": ALL_DML,
        "destination_state": "SELECT, INSERT, UPDATE",
        "held_deliveries": ALL_DML,
        "alerts": "SELECT, INSERT, UPDATE",
        "incidents": "SELECT, INSERT, UPDATE",
        "vendor_refs": "SELECT, INSERT, UPDATE",
        "conflicts": "SELECT, INSERT, UPDATE",  # a CRM correction the vendor refused
        "field_versions": "SELECT",
        "inbox": "SELECT, DELETE",  # retention
        "audit_log": f"INSERT, {_CHAIN}",
    },
    AUDITOR: {"audit_log": "SELECT", "deliveries": "SELECT", "alembic_version": "SELECT"},
}
# The operator's commands reach every table of cdc_sync; the audit log it may only append to.
OPERATOR_AUDIT = "SELECT, INSERT"
# Who may prune the audit log (through the owner's function only).
AUDIT_PRUNERS = (RUNNER, OPERATOR)
# Tables the core writer adds to for every vendor: tasks, timeline entries, their campaigns.
CORE_WRITES: Mapping[str, str] = {"tasks": "INSERT", "activities": "INSERT", "campaigns": "INSERT, UPDATE"}
# And the operator's own: `privacy correct` changes a contact as the CRM would.
OPERATOR_WRITES: Mapping[str, str] = {"contacts": "UPDATE"}


@dataclass(frozen=True)
class Grant:
    privileges: str
    table: str  # qualified
    role: str  # or roles, comma-separated

    def sql(self) -> str:
        return f"GRANT {self.privileges} ON {self.table} TO {self.role}"


def state_grants(tables: Iterable[str]) -> list[Grant]:
    """Every grant on cdc_sync's tables, for the tables that exist."""
    found = sorted(tables)
    grants = [
        Grant(privileges, f"{SCHEMA}.{table}", role)
        for role, granted in STATE.items()
        for table, privileges in granted.items()
        if table in found
    ]
    grants += [
        Grant(OPERATOR_AUDIT if table == "audit_log" else ALL_DML, f"{SCHEMA}.{table}", OPERATOR)
        for table in found
    ]
    return grants


Writes = Iterable[tuple[str, str]]  # (CRM table, privileges), a table may come more than once


def crm_grants(tables: Iterable[str], writes: Writes, command_writes: Writes) -> list[Grant]:
    """The CRM side: every service role but serve reads the CRM's tables (lookups,
    reconciliation, the handlers' reads); the writer writes what the handlers write, the operator
    also what its commands write. `tables` are the CRM's (schema public)."""
    found = set(tables)
    handlers = [*CORE_WRITES.items(), *writes]
    readers = [
        Grant("SELECT", f"public.{table}", f"{WRITER}, {RUNNER}, {OPERATOR}") for table in sorted(found)
    ]
    return [
        *readers,
        *_writes(WRITER, handlers, found),
        *_writes(OPERATOR, [*handlers, *OPERATOR_WRITES.items(), *command_writes], found),
    ]


def _writes(role: str, writes: Writes, found: set[str]) -> list[Grant]:
    return [Grant(privileges, f"public.{table}", role) for table, privileges in writes if table in found]


def apply_state_grants(conn: Connection) -> None:
    """As the owner: revoke what the service roles had on cdc_sync, then grant `STATE` afresh."""
    tables = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": SCHEMA}
    ).scalars()
    existing = _existing(conn, SERVICE_ROLES)
    if not existing:
        return  # a single-role install: its one role owns everything
    roles = ", ".join(existing)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {roles}"))
    conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM {roles}"))
    conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {roles}"))
    for grant in state_grants(tables):
        if grant.role in existing:
            conn.execute(text(grant.sql()))
    prune = f"FUNCTION {SCHEMA}.prune_audit(timestamptz, integer)"
    conn.execute(text(f"REVOKE ALL ON {prune} FROM PUBLIC"))
    if pruners := ", ".join(role for role in AUDIT_PRUNERS if role in existing):
        conn.execute(text(f"GRANT EXECUTE ON {prune} TO {pruners}"))


def crm_grant_statements(conn: Connection, writes: Writes, command_writes: Writes) -> list[str]:
    """As the CRM's owner: the statements that leave the service roles exactly `crm_grants`."""
    tables = list(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    roles = ", ".join(_existing(conn, (WRITER, RUNNER, OPERATOR, SERVE)))
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {roles}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {roles}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {roles}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {WRITER}, {OPERATOR}",
    ]
    return statements + [grant.sql() for grant in crm_grants(tables, writes, command_writes)]


def _existing(conn: Connection, roles: Iterable[str]) -> list[str]:
    wanted = list(roles)
    # Never the role running this: an install with one role owns its tables and keeps its rights.
    query = text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:r) AND rolname <> current_user")
    found = set(conn.execute(query, {"r": wanted}).scalars())
    return [role for role in wanted if role in found]
