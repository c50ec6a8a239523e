"""Alerts and incidents, as rows an operator (and the report) can query."""

from typing import Any, Literal

from sqlalchemy import Engine, insert, text

from cdc_sync.store.tables import SCHEMA, alerts, incidents

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


# The newest alert of this kind and subject still in its window counts one more occurrence.
_COUNT_AGAIN = text(
    f"""
    UPDATE {SCHEMA}.alerts
    SET details = jsonb_set(coalesce(details, '{{}}'::jsonb), '{{count}}',
                            to_jsonb(coalesce((details->>'count')::int, 1) + 1)),
        message = :message
    WHERE id = (
        SELECT id FROM {SCHEMA}.alerts
        WHERE kind = :kind AND destination = :subject AND at > now() - make_interval(secs => :window_s)
        ORDER BY id DESC LIMIT 1
    )
    RETURNING id
    """
)


def record_repeated_alert(
    engine: Engine, severity: Severity, kind: str, message: str, subject: str, window_s: float = 60
) -> int:
    """One alert row per kind and subject per `window_s`, counting the occurrences in
    `details.count` (a flood of forged requests is one row a minute, not one a request); the
    message is the latest occurrence's."""
    with engine.begin() as conn:
        found = conn.execute(
            _COUNT_AGAIN, {"message": message, "kind": kind, "subject": subject, "window_s": window_s}
        ).scalar()
        if found is not None:
            return int(found)
        values = {
            "severity": severity,
            "kind": kind,
            "message": message,
            "destination": subject,
            "details": {"count": 1},
        }
        return int(conn.execute(insert(alerts).values(values).returning(alerts.c.id)).scalar_one())


def mark_notified(engine: Engine, alert_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(notified=True))


def open_incident(engine: Engine, destination: str, kind: str, summary: str, details: dict[str, Any]) -> int:
    values = {"destination": destination, "kind": kind, "summary": summary, "details": details}
    with engine.begin() as conn:
        return int(conn.execute(insert(incidents).values(values).returning(incidents.c.id)).scalar_one())
