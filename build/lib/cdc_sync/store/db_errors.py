"""psycopg's errors (as SQLAlchemy wraps them), sorted by what the caller does next. Pure.

A transient failure says nothing about the work: the connection is gone, the server is shutting
down or short of resources, a deadlock or serialization failure, a lock that could not be had. The
same work succeeds later, so it is retried with backoff and nothing is rejected for it. Any other
error (bad data, a violated constraint, a refusing trigger, a bug) comes back every time: the one
event that caused it is rejected, with `reason_of` as its reason.
"""

from typing import Literal

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cdc_sync.errors import RetryableError, StackUnavailable

Failure = Literal["transient", "permanent"]

# SQLSTATE classes (first two characters) and single states that pass by themselves.
TRANSIENT_CLASSES: dict[str, str] = {
    "08": "connection exception",
    "40": "transaction rollback (deadlock, serialization failure)",
    "53": "insufficient resources",
    "57": "operator intervention (shutdown, cancelled statement)",
    "58": "system error",
}
TRANSIENT_STATES: dict[str, str] = {"55P03": "lock not available"}
# Without a SQLSTATE: failures to reach the database at all.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    StackUnavailable,
    RetryableError,
    ConnectionError,
    TimeoutError,
)
_MAX_REASON = 500


def sqlstate_of(exc: BaseException) -> str | None:
    origin = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(origin, "sqlstate", None)
    return state if isinstance(state, str) else None


def failure_of(exc: BaseException) -> Failure:
    """Transient (retry the work later) or permanent (the event that raised it is rejected)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "transient"
    state = sqlstate_of(exc)
    if state is not None:
        transient = state[:2] in TRANSIENT_CLASSES or state in TRANSIENT_STATES
        return "transient" if transient else "permanent"
    return "transient" if isinstance(exc, TRANSIENT_TYPES) else "permanent"


def reason_of(exc: BaseException) -> str:
    """One line for a stored reason: the error's type and first line, never the SQL or parameters."""
    origin = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(origin).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(origin).__name__}: {first}"[:_MAX_REASON] if first else type(origin).__name__
