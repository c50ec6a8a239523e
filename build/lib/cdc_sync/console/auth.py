"""Who may do what in the console, and the checks every request passes: a server-side session
(cookie `HttpOnly`, `SameSite=Strict`, `Secure` behind TLS), the role its action needs, and the
session's CSRF token on every form."""

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from starlette.requests import Request

from cdc_sync.config import Role
from cdc_sync.store.operators import Session

COOKIE = "cdc_sync_console"
ROLES: tuple[Role, ...] = get_args(Role)  # each may do what the ones before it may
# What each action needs; reading needs a session of any role.
NEEDS = {
    "read": "viewer",
    "retry": "operator",
    "discard": "operator",
    "pause": "operator",
    "resume": "operator",
    "resolve": "operator",
    "replay": "operator",
    "show_pii": "admin",
    "rewind": "admin",
    "manage_operators": "admin",
}


class Refused(Exception):
    """A request the console does not carry out: `status` says how it ends."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def allows(role: str, action: str) -> bool:
    needed = NEEDS[action]
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check(session: Session, action: str) -> None:
    if not allows(session.role, action):
        raise Refused(403, f"{session.operator} ({session.role}) may not {action}: it needs {NEEDS[action]}")


def check_csrf(session: Session, sent: object) -> None:
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise Refused(403, "the form's CSRF token is missing or wrong: reload the page and try again")


def behind_tls(request: Request) -> bool:
    """The console is reached over HTTPS (directly, or through a proxy that says so)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


@dataclass(frozen=True)
class CookieSettings:
    secure: bool

    def as_kwargs(self) -> dict[str, object]:
        return {"httponly": True, "samesite": "strict", "secure": self.secure, "path": "/console"}


def proxy_role(groups: str | None, roles: Mapping[str, Role]) -> Role | None:
    """The highest role the proxy's groups header (comma- or space-separated) maps to, if any."""
    mapped = [roles[group] for group in re.split(r"[,\s]+", groups or "") if group in roles]
    return max(mapped, key=ROLES.index) if mapped else None
