"""The Zendesk helpdesk model: users matched by external_id then email (both indexed), and the
tickets seeded through `/_sandbox/tickets`."""

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdc_sync.sandbox.faults import Clock

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
Details = dict[str, list[dict[str, str]]]


def zendesk_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordInvalid(Exception):
    def __init__(self, details: Details) -> None:
        super().__init__(details)
        self.details = details


class RecordNotFound(Exception):
    """No user, ticket or job with that id."""


def blank(field: str) -> Details:
    return {field: [{"description": f"{field.capitalize()}: cannot be blank", "error": "BlankValue"}]}


class UserFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    external_id: str | None = None
    user_fields: dict[str, Any] | None = None


class UserRequest(BaseModel):
    user: UserFields


def record_invalid(exc: ValidationError) -> RecordInvalid:
    details: Details = {}
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else "user"
        details.setdefault(field, []).append(
            {"description": f"{field}: {error['msg']}", "error": "InvalidValue"}
        )
    return RecordInvalid(details)


def user_request(body: Any) -> UserFields:
    """The user of a create_or_update body."""
    try:
        return UserRequest.model_validate(body).user
    except ValidationError as exc:
        raise record_invalid(exc) from exc


def user_entry(body: Any) -> UserFields:
    """One user of a create_or_update_many body."""
    try:
        return UserFields.model_validate(body)
    except ValidationError as exc:
        raise record_invalid(exc) from exc


TicketStatus = Literal["new", "open", "pending", "hold", "solved", "closed"]


class TicketSeed(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int = Field(gt=0)
    subject: str = ""
    status: TicketStatus = "new"
    priority: Literal["urgent", "high", "normal", "low"] | None = None
    requester_id: int | None = None
    external_id: str | None = None


class TicketSeeds(BaseModel):
    tickets: list[TicketSeed]


def checked(fields: UserFields) -> tuple[str, str]:
    """(email, name) of a create_or_update, or RecordInvalid listing what is wrong."""
    email, name = (fields.email or "").strip(), (fields.name or "").strip()
    details: Details = {}
    for field, value in (("name", name), ("email", email)):
        if not value:
            details |= blank(field)
    if email and not EMAIL.match(email):
        details["email"] = [
            {"description": f"Email: {email} is not properly formatted", "error": "InvalidFormat"}
        ]
    if details:
        raise RecordInvalid(details)
    return email, name


@dataclass
class User:
    id: int
    email: str
    name: str
    phone: str | None
    external_id: str | None
    user_fields: dict[str, Any]
    created_at: float
    updated_at: float
    active: bool = True

    def change(self, fields: UserFields, now: float) -> None:
        given = fields.model_dump(include=fields.model_fields_set - {"user_fields"})
        for name, value in given.items():
            setattr(self, name, value)
        self.user_fields = {**self.user_fields, **(fields.user_fields or {})}
        self.updated_at = now

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base_url}api/v2/users/{self.id}.json",
            "email": self.email,
            "name": self.name,
            "phone": self.phone,
            "external_id": self.external_id,
            "user_fields": self.user_fields,
            "active": self.active,
            "created_at": zendesk_time(self.created_at),
            "updated_at": zendesk_time(self.updated_at),
        }


SEARCHABLE: dict[str, Callable[[User], str | None]] = {
    "id": lambda user: str(user.id),
    "email": lambda user: user.email,
    "name": lambda user: user.name,
    "phone": lambda user: user.phone,
    "external_id": lambda user: user.external_id,
}


def matches(user: User, term: str) -> bool:
    """One term of Zendesk's search syntax: `field:value` exactly, anything else as free text."""
    field, colon, value = term.partition(":")
    if colon and field == "type":
        return value == "user"
    if colon and field in SEARCHABLE:
        return (SEARCHABLE[field](user) or "").lower() == value.lower()
    return term.lower() in f"{user.name} {user.email}".lower()


class UserIndex:
    """Users by the value of one field; when several share it, the oldest (lowest id) comes first."""

    def __init__(self, value_of: Callable[[User], str | None]) -> None:
        self.value_of = value_of
        self._users: dict[str, dict[int, User]] = {}

    def add(self, user: User) -> None:
        value = self.value_of(user)
        if value:
            self._users.setdefault(value, {})[user.id] = user

    def remove(self, user: User) -> None:
        value = self.value_of(user)
        same = self._users.get(value or "")
        if same is not None:
            same.pop(user.id, None)
            if not same:
                del self._users[value or ""]

    def all(self, value: str) -> list[User]:
        same = self._users.get(value, {})
        return [same[user_id] for user_id in sorted(same)]

    def first(self, value: str | None) -> User | None:
        same = self._users.get(value or "")
        return same[min(same)] if same else None

    def clear(self) -> None:
        self._users.clear()


class Helpdesk:
    """Users with integer ids from 1 (an id is never reused), the users deleted but not yet
    permanently (`deleted_users`), and the seeded tickets."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.users: dict[int, User] = {}
        self.deleted: dict[int, User] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.by_external_id = UserIndex(lambda user: user.external_id)
        self.by_email = UserIndex(lambda user: user.email.lower())
        self._ids = count(1)

    def clear(self) -> None:
        for store in (self.users, self.deleted, self.tickets, self.by_external_id, self.by_email):
            store.clear()
        self._ids = count(1)

    def create_or_update(self, fields: UserFields) -> tuple[User, bool]:
        """(user, created?): matched by external_id first, then by email."""
        email, name = checked(fields)
        user, now = self.find(fields.external_id, email), self.clock()
        created = user is None
        if user is None:
            user = User(next(self._ids), email, name, None, None, {}, now, now)
            self.users[user.id] = user
        self._reindexed(user, fields, now)
        return user, created

    def _reindexed(self, user: User, fields: UserFields, now: float) -> None:
        self._unindexed(user)
        user.change(fields, now)
        for index in (self.by_external_id, self.by_email):
            index.add(user)

    def _unindexed(self, user: User) -> None:
        for index in (self.by_external_id, self.by_email):
            index.remove(user)

    def find(self, external_id: str | None, email: str) -> User | None:
        return self.by_external_id.first(external_id) or self.by_email.first(email.lower())

    def user(self, user_id: int) -> User:
        if user_id not in self.users:
            raise RecordNotFound(f"user {user_id}")
        return self.users[user_id]

    def delete(self, user_id: int) -> User:
        """Soft deletion: out of lists, searches and matching, kept among the deleted users."""
        user = self.users.pop(self.user(user_id).id)
        self._unindexed(user)
        user.active, user.updated_at = False, self.clock()
        self.deleted[user.id] = user
        return user

    def deleted_user(self, user_id: int) -> User:
        if user_id not in self.deleted:
            raise RecordNotFound(f"deleted user {user_id}")
        return self.deleted[user_id]

    def delete_permanently(self, user_id: int) -> User:
        """A soft-deleted user erased for good (Zendesk refuses one that is not deleted yet)."""
        return self.deleted.pop(self.deleted_user(user_id).id)

    def ordered(self) -> list[User]:
        return list(self.users.values())  # ids only grow, so insertion order is id order

    def after(self, user_id: int | None, size: int) -> tuple[list[User], bool]:
        """Up to `size` users with ids above `user_id` (from the first when None), and has_more."""
        ids = list(self.users)  # ascending: see `ordered`
        start = bisect_right(ids, user_id or 0)
        chosen = ids[start : start + size]
        return [self.users[i] for i in chosen], start + size < len(ids)

    def before(self, user_id: int, size: int) -> tuple[list[User], bool]:
        """Up to `size` users just below `user_id`, and whether there are more before them."""
        ids = list(self.users)  # ascending: see `ordered`
        end = bisect_left(ids, user_id)
        start = max(end - size, 0)
        return [self.users[i] for i in ids[start:end]], start > 0

    def search(self, query: str) -> list[User]:
        terms = query.split()
        return [user for user in self.users.values() if all(matches(user, term) for term in terms)]

    def with_external_id(self, external_id: str) -> list[User]:
        return self.by_external_id.all(external_id)

    def seed(self, seeds: list[TicketSeed]) -> list[dict[str, Any]]:
        now = zendesk_time(self.clock())
        for seed in seeds:
            self.tickets[seed.id] = {"created_at": now, "updated_at": now, **seed.model_dump()}
        return [self.tickets[seed.id] for seed in seeds]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        if ticket_id not in self.tickets:
            raise RecordNotFound(f"ticket {ticket_id}")
        return self.tickets[ticket_id]
