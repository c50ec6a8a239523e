"""The audit log: who did what to which object, when, with before/after."""

from typing import Any

from sqlalchemy import Engine, insert

from cdc_sync.store.tables import audit_log


def audit(
    engine: Engine,
    actor: str,
    action: str,
    obj: str | None,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    values = {
        "actor": actor,
        "action": action,
        "object": obj,
        "before": before,
        "after": after,
        "details": details,
    }
    with engine.begin() as conn:
        conn.execute(insert(audit_log).values(values))
