"""Alerts and incidents, as rows an operator (and the report) can query."""

from typing import Any, Literal

from sqlalchemy import Engine, insert

from cdc_sync.store.tables import alerts, incidents

Severity = Literal["warning", "severe"]


def record_alert(
    engine: Engine,
    severity: Severity,
    kind: str,
    message: str,
    destination: str | None = None,
    details: dict[str, Any] | None = None,
    recipients: list[str] | None = None,
) -> int:
    values = {
        "severity": severity,
        "kind": kind,
        "message": message,
        "destination": destination,
        "details": details,
        "recipients": recipients,
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(alerts).values(values).returning(alerts.c.id)).scalar_one())


def mark_notified(engine: Engine, alert_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(notified=True))


def open_incident(engine: Engine, destination: str, kind: str, summary: str, details: dict[str, Any]) -> int:
    values = {"destination": destination, "kind": kind, "summary": summary, "details": details}
    with engine.begin() as conn:
        return int(conn.execute(insert(incidents).values(values).returning(incidents.c.id)).scalar_one())
