"""Console operators and their sessions (SQL). Tokens are stored hashed: a copy of the table
opens no session."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as upsert

from cdc_sync.store.audit import audit_in
from cdc_sync.store.tables import console_sessions, operators

SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class Session:
    operator: str
    role: str
    csrf: str


def add_operator(engine: Engine, name: str, password_hash: str, role: str, actor: str) -> bool:
    """Create the operator, or set a new password and role; returns True when it was new. Audited
    (never the hash)."""
    values = {"name": name, "password_hash": password_hash, "role": role, "created_by": actor}
    statement = upsert(operators).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[operators.c.name], set_={"password_hash": password_hash, "role": role}
    )
    with engine.begin() as conn:
        existed = conn.execute(select(operators.c.name).where(operators.c.name == name)).first() is not None
        conn.execute(statement)
        conn.execute(delete(console_sessions).where(console_sessions.c.operator == name))
        audit_in(conn, actor, "operator.set", f"operator:{name}", None, {"role": role}, {"new": not existed})
    return not existed


def operator(engine: Engine, name: str) -> Operator | None:
    with engine.connect() as conn:
        row = conn.execute(select(operators).where(operators.c.name == name)).first()
    return None if row is None else Operator(row.name, row.role, row.password_hash)


def list_operators(engine: Engine) -> list[dict[str, object]]:
    statement = select(operators.c.name, operators.c.role, operators.c.created_at, operators.c.created_by)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement.order_by(operators.c.name)).mappings()]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, name: str) -> str:
    """A new session for the operator (audited `console.login`); returns its token for the cookie."""
    token = secrets.token_urlsafe(32)
    values = {
        "token_hash": _digest(token),
        "operator": name,
        "csrf": secrets.token_urlsafe(32),
        "expires_at": datetime.now(UTC) + SESSION_TTL,
    }
    with engine.begin() as conn:
        conn.execute(insert(console_sessions).values(**values))
        audit_in(conn, name, "console.login", f"operator:{name}")
    return token


def session_of(engine: Engine, token: str | None) -> Session | None:
    """The live session the cookie's token names, with the operator's role as it is now."""
    if not token:
        return None
    statement = (
        select(console_sessions.c.operator, console_sessions.c.csrf, operators.c.role)
        .join(operators, operators.c.name == console_sessions.c.operator)
        .where(
            console_sessions.c.token_hash == _digest(token), console_sessions.c.expires_at > datetime.now(UTC)
        )
    )
    with engine.connect() as conn:
        row = conn.execute(statement).first()
    return None if row is None else Session(row.operator, row.role, row.csrf)


def proxied_session(engine: Engine, token: str | None, name: str, role: str) -> Session | None:
    """The live session the token names if it is `name`'s (a user an OIDC proxy signed in, with
    the role the proxy's groups give now); None otherwise."""
    if not token:
        return None
    statement = select(console_sessions.c.operator, console_sessions.c.csrf).where(
        console_sessions.c.token_hash == _digest(token), console_sessions.c.expires_at > datetime.now(UTC)
    )
    with engine.connect() as conn:
        row = conn.execute(statement).first()
    return Session(name, role, row.csrf) if row is not None and row.operator == name else None


def close_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == _digest(token)))
