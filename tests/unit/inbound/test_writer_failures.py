"""A writer whose passes fail: one log line when it starts and one when it ends, a growing wait."""

import logging

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from cdc_sync.inbound.writer import PassFailures


def lost_connection() -> Exception:
    return DBAPIError.instance(
        "SELECT 1", {}, psycopg.OperationalError("server closed the connection"), psycopg.Error
    )


def test_failed_passes_log_once_and_back_off_up_to_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    failures = PassFailures()
    with caplog.at_level(logging.WARNING, "cdc_sync.inbound.writer"):
        waits = [failures.failed(lost_connection(), jitter=0.999) for _ in range(12)]
        failures.succeeded()
        failures.succeeded()
    assert waits[0] < 1 and waits == sorted(waits) and max(waits) <= 30
    assert waits[-1] > 29
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert "server closed the connection" in messages[0] and "after 12 failed" in messages[1]


def test_after_a_recovery_the_next_outage_starts_over() -> None:
    failures = PassFailures()
    for _ in range(5):
        failures.failed(lost_connection(), jitter=0.0)
    failures.succeeded()
    assert failures.failed(lost_connection(), jitter=0.0) == pytest.approx(0.25)
