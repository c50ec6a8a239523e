"""Data-subject requests on the real stack: a CRM contact synced to the marketing and helpdesk
sandboxes is exported (our rows and each vendor's copy), corrected through the outbound path,
refused while a conflict of it is open, then erased: gone from both sandboxes for good, and its
e-mail in no table of the cdc_sync schema."""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from tests.integration.outbound_fixtures import Runner, wait_for
from tests.integration.test_helpdesk import helpdesk_user_of
from tests.integration.test_outbound import ZENDESK_AUTH, add_contacts, member

ZENDESK = "http://127.0.0.1:9102"


def zendesk_status(path: str) -> int:
    return httpx.get(f"{ZENDESK}{path}", auth=ZENDESK_AUTH, timeout=10).status_code


def tables_quoting(state: Engine, address: str) -> dict[str, int]:
    """Every table of the cdc_sync schema, each row as text, searched for the address."""
    with state.connect() as conn:
        names = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'cdc_sync'")
        ).scalars()
        found = {
            name: conn.execute(
                text(f'SELECT count(*) FROM cdc_sync."{name}" t WHERE t::text ILIKE :a'),
                {"a": f"%{address}%"},
            ).scalar_one()
            for name in names
        }
    return {name: count for name, count in found.items() if count}


def helpdesk_name(user: str) -> str | None:
    answer = httpx.get(f"{ZENDESK}/api/v2/users/{user}", auth=ZENDESK_AUTH, timeout=10)
    return answer.json()["user"]["name"] if answer.status_code == 200 else None


def cli_json(runner: Runner, *args: str) -> dict[str, Any]:
    done = runner.cli(*args)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_a_contact_is_exported_corrected_and_erased_everywhere(
    crm: Engine, state: Engine, runner: Runner, tmp_path: Path
) -> None:
    email = f"subject-{uuid.uuid4().hex[:8]}@example.com"
    (contact,) = add_contacts(crm, [email], first_name="Dana", last_name="Subject")
    entity = f"contact:{contact}"
    wait_for("the member in the audience", lambda: member(email))
    user = helpdesk_user_of(state, contact)

    out = tmp_path / "export.json"
    exported = runner.cli("privacy", "export", entity, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    copy = json.loads(out.read_text())
    assert copy["crm"]["email"] == email
    assert copy["vendors"]["marketing"]["records"]["email_address"] == email
    assert [found["user"]["email"] for found in copy["vendors"]["helpdesk"]["records"]] == [email]
    assert copy["vendors"]["callcenter"]["outcome"] == "not_supported"
    assert user in [ref["vendor_ref"] for ref in copy["cdc_sync"]["vendor_refs"]]
    assert {ledger["entity"] for ledger in copy["cdc_sync"]["deliveries"]} == {entity}

    corrected = cli_json(runner, "privacy", "correct", entity, "first_name=Dora", "--json")
    assert corrected["fields"] == ["first_name"]
    wait_for(
        "the correction in the audience",
        lambda: (member(email) or {}).get("merge_fields", {}).get("FNAME") == "Dora",
    )
    wait_for("the correction in the helpdesk", lambda: helpdesk_name(user) == "Dora Subject")

    with state.begin() as conn:  # an open conflict of the contact: a change in flight
        conflict = conn.execute(
            text(
                "INSERT INTO cdc_sync.conflicts (source, event_id, table_name, row_id, field, reason) "
                "VALUES ('helpdesk', :e, 'contacts', :c, 'phone', 'test') RETURNING id"
            ),
            {"e": uuid.uuid4().hex, "c": contact},
        ).scalar_one()
    refused = runner.cli("privacy", "erase", entity, "--yes")
    assert refused.returncode == 1 and "changes in flight: 1 open conflicts" in refused.stderr
    with state.begin() as conn:
        conn.execute(text("UPDATE cdc_sync.conflicts SET status = 'resolved' WHERE id = :i"), {"i": conflict})

    erased = cli_json(runner, "privacy", "erase", entity, "--yes", "--json")
    outcomes = {name: step["outcome"] for name, step in erased["steps"].items()}
    assert outcomes == {
        "marketing": "erased",
        "helpdesk": "erased",
        "callcenter": "not_supported",
        "cdc_sync": "erased",
    }
    assert erased["finished"] and erased["audit_rows_quoting"] == []
    assert member(email) is None
    assert (zendesk_status(f"/api/v2/users/{user}"), zendesk_status(f"/api/v2/deleted_users/{user}")) == (
        404,
        404,
    )
    assert tables_quoting(state, email) == {}
    with state.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT action, details FROM cdc_sync.audit_log "
                "WHERE object = :o AND action LIKE 'privacy.%' ORDER BY id"
            ),
            {"o": entity},
        ).all()
    assert [action for action, _ in audited] == ["privacy.export", "privacy.correct", "privacy.erase"]
    assert audited[-1][1]["steps"] == outcomes

    again = cli_json(runner, "privacy", "erase", entity, "--yes", "--json")  # nothing left to erase
    assert {name: step["outcome"] for name, step in again["steps"].items()}["marketing"] == "absent"
