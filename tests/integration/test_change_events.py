"""Row changes in the CRM arrive in Kafka as decoded ChangeEvents."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from tests.integration.conftest import Collect


def test_insert_update_delete_arrive_in_order_with_position(crm: Engine, collect: Collect) -> None:
    email = f"flow-{uuid.uuid4().hex[:10]}@example.com"
    with crm.begin() as conn:
        contact_id = conn.execute(
            text(
                "INSERT INTO contacts (first_name, email, health_score) VALUES ('Flo', :e, 50.5) RETURNING id"
            ),
            {"e": email},
        ).scalar_one()
    with crm.begin() as conn:
        conn.execute(text("UPDATE contacts SET health_score = 75.25 WHERE id = :id"), {"id": contact_id})
    with crm.begin() as conn:
        conn.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": contact_id})

    events = collect("crm.public.contacts", lambda e: e.key == {"id": contact_id}, 3)

    assert [e.op for e in events] == ["c", "u", "d"]
    created, updated, deleted = events
    assert created.after is not None and created.after["email"] == email
    assert created.after["health_score"] == Decimal("50.50")
    assert updated.before is not None and updated.after is not None
    assert (updated.before["health_score"], updated.after["health_score"]) == (
        Decimal("50.50"),
        Decimal("75.25"),
    )
    assert deleted.after is None and deleted.before is not None and deleted.before["email"] == email
    lsns = [e.source.lsn or 0 for e in events]
    assert all(lsns) and lsns == sorted(lsns)
    assert len({e.source.tx_id for e in events}) == 3
    assert all(abs(datetime.now(UTC) - e.source.commit_ts) < timedelta(minutes=5) for e in events)
    assert all(e.table == "public.contacts" and not e.source.snapshot for e in events)
