"""The grants: each service role gets only what its process does."""

from cdc_sync.store.grants import OPERATOR, RUNNER, SERVE, STATE, WRITER, crm_grants, state_grants
from cdc_sync.vendors.registry import COMMAND_WRITES, CRM_WRITES

CRM = [
    "contacts",
    "tickets",
    "subscriptions",
    "users",
    "orders",
    "segments",
    "tasks",
    "activities",
    "campaigns",
]


def granted(grants: list, role: str) -> dict[str, set[str]]:  # type: ignore[type-arg]
    found: dict[str, set[str]] = {}
    for grant in grants:
        if role in grant.role.split(", "):
            found.setdefault(grant.table.rpartition(".")[2], set()).update(
                p.strip() for p in grant.privileges.split(",")
            )
    return found


def test_serve_appends_to_the_inbox_and_reads_no_delivery_state() -> None:
    grants = granted(state_grants(["inbox", "deliveries", "dead_letters", "audit_log", "alerts"]), SERVE)
    assert "INSERT" in grants["inbox"] and "UPDATE" not in grants["inbox"]
    assert "deliveries" not in grants and "audit_log" not in grants
    assert grants["dead_letters"] == {"SELECT (destination", "status", "at)"}  # no payload columns


def test_no_service_role_may_change_or_delete_audit_rows() -> None:
    grants = state_grants(["audit_log"])
    assert grants, "the audit log is granted to someone"
    for grant in grants:
        assert "UPDATE" not in grant.privileges and "DELETE" not in grant.privileges, grant


def test_serve_gets_nothing_on_the_crm() -> None:
    assert granted(crm_grants(CRM, CRM_WRITES, COMMAND_WRITES), SERVE) == {}


def test_the_writer_writes_only_what_the_handlers_declare() -> None:
    grants = granted(crm_grants(CRM, CRM_WRITES, COMMAND_WRITES), WRITER)
    assert grants["users"] == {"SELECT"} and grants["orders"] == {"SELECT"}  # no handler writes them
    assert {"INSERT", "UPDATE"} <= grants["tickets"] and {"INSERT", "UPDATE"} <= grants["subscriptions"]
    assert {"INSERT", "UPDATE"} <= grants["contacts"]  # helpdesk updates, the call center adds leads
    assert grants["segments"] == {"SELECT"}  # only the operator's `segments sync` links them


def test_the_runner_only_reads_the_crm() -> None:
    grants = granted(crm_grants(CRM, CRM_WRITES, COMMAND_WRITES), RUNNER)
    assert set().union(*grants.values()) == {"SELECT"}


def test_the_operator_also_writes_what_its_commands_write() -> None:
    grants = granted(crm_grants(CRM, CRM_WRITES, COMMAND_WRITES), OPERATOR)
    assert "UPDATE" in grants["segments"] and grants["users"] == {"SELECT"}


def test_grants_name_only_tables_that_exist() -> None:
    assert all(g.table.endswith(("inbox", "alerts")) for g in state_grants(["inbox", "alerts"]))
    assert set(STATE[WRITER]) >= {"inbox", "conflicts", "audit_log"}
