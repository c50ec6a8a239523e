"""Which database failures are the event's (rejected) and which pass by themselves (retried)."""

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cdc_sync.errors import RejectedEvent, StackUnavailable
from cdc_sync.store.db_errors import Failure, failure_of, reason_of


def wrapped(sqlstate: str, message: str = "it failed", invalidated: bool = False) -> DBAPIError:
    """A psycopg error with this SQLSTATE as SQLAlchemy raises it (hiding the parameters)."""
    exc = DBAPIError.instance(
        "UPDATE tickets SET status = %(status)s",
        {"status": "secret"},
        errors.lookup(sqlstate)(message),
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=invalidated,
    )
    assert isinstance(exc, DBAPIError)
    return exc


@pytest.mark.parametrize(
    ("sqlstate", "failure"),
    [
        ("08006", "transient"),  # connection failure
        ("57P01", "transient"),  # admin shutdown
        ("40P01", "transient"),  # deadlock detected
        ("40001", "transient"),  # serialization failure
        ("53300", "transient"),  # too many connections
        ("55P03", "transient"),  # lock not available
        ("22P05", "permanent"),  # untranslatable character (a NUL in jsonb)
        ("22003", "permanent"),  # numeric value out of range
        ("23514", "permanent"),  # check violation
        ("P0001", "permanent"),  # raised by a CRM trigger
        ("42501", "permanent"),  # insufficient privilege
        (
            "54000",
            "permanent",
        ),  # program limit exceeded (a row too large), although psycopg calls it operational
    ],
)
def test_database_errors_by_sqlstate(sqlstate: str, failure: Failure) -> None:
    assert failure_of(wrapped(sqlstate)) == failure


def test_a_lost_connection_is_transient_whatever_the_error_says() -> None:
    assert failure_of(wrapped("22003", invalidated=True)) == "transient"


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (
            DBAPIError.instance(
                "SELECT 1", {}, psycopg.OperationalError("connection refused"), psycopg.Error
            ),
            "transient",
        ),
        (PoolTimeout("QueuePool limit reached"), "transient"),
        (StackUnavailable("down"), "transient"),
        (ConnectionResetError(), "transient"),
        (TypeError("'<=' not supported between instances of 'int' and 'str'"), "permanent"),
        (KeyError("ticket_id"), "permanent"),
        (RejectedEvent("CSAT 7 is outside the 0-5 scale"), "permanent"),
        (AssertionError(), "permanent"),
    ],
)
def test_errors_without_a_sqlstate_by_type(exc: BaseException, failure: Failure) -> None:
    assert failure_of(exc) == failure


def test_a_reason_is_the_errors_first_line_without_sql_or_parameters() -> None:
    reason = reason_of(
        wrapped("22P05", "unsupported Unicode escape sequence\nDETAIL: \\u0000 cannot be converted")
    )
    assert reason == "UntranslatableCharacter: unsupported Unicode escape sequence"
    assert reason_of(TypeError("bad\nsecond line")) == "TypeError: bad"
    assert reason_of(KeyError()) == "KeyError"
    assert len(reason_of(ValueError("x" * 5000))) <= 500
