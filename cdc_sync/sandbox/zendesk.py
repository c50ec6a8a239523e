"""Zendesk Support API sandbox: users (create_or_update, list, show, search) and seeded tickets."""

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from random import Random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdc_sync.sandbox import emit
from cdc_sync.sandbox.control import CONTROL_PREFIX, invalid, validation_problems
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, basic_credentials, sandbox_app, secret_matches
from cdc_sync.sandbox.recorder import Incoming, json_object
from cdc_sync.sandbox.zendesk_pages import BadPage, cursor_page, cursor_position, offset_page, page_size

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
ERROR_NAMES = {404: "RecordNotFound", 422: "RecordInvalid", 429: "TooManyRequests"}
FIXED_DESCRIPTIONS = {404: "Not found"}
Details = dict[str, list[dict[str, str]]]


def zendesk_error(status: int, detail: str) -> Response:
    if status == 401:
        return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
    name = ERROR_NAMES.get(status) or HTTPStatus(status).phrase.replace(" ", "")
    body = {"error": name, "description": FIXED_DESCRIPTIONS.get(status, detail)}
    return JSONResponse(body, status_code=status)


def zendesk_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordInvalid(Exception):
    def __init__(self, details: Details) -> None:
        super().__init__(details)
        self.details = details


class RecordNotFound(Exception):
    """No user or ticket with that id."""


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


class Helpdesk:
    """Users with integer ids from 1, and the tickets seeded through `/_sandbox/tickets`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.users: dict[int, User] = {}
        self.tickets: dict[int, dict[str, Any]] = {}

    def clear(self) -> None:
        self.users.clear()
        self.tickets.clear()

    def create_or_update(self, fields: UserFields) -> tuple[User, bool]:
        """(user, created?): matched by external_id first, then by email."""
        email, name = checked(fields)
        user, now = self.find(fields.external_id, email), self.clock()
        created = user is None
        if user is None:
            user = User(len(self.users) + 1, email, name, None, None, {}, now, now)
            self.users[user.id] = user
        user.change(fields, now)
        return user, created

    def find(self, external_id: str | None, email: str) -> User | None:
        by_external_id = [
            user for user in self.users.values() if external_id and user.external_id == external_id
        ]
        by_email = [user for user in self.users.values() if user.email.lower() == email.lower()]
        return next(iter(by_external_id + by_email), None)

    def user(self, user_id: int) -> User:
        if user_id not in self.users:
            raise RecordNotFound(f"user {user_id}")
        return self.users[user_id]

    def ordered(self) -> list[User]:
        return sorted(self.users.values(), key=lambda user: user.id)

    def after(self, user_id: int | None, size: int) -> tuple[list[User], bool]:
        """Up to `size` users with ids above `user_id` (from the first when None), and has_more."""
        rest = [user for user in self.ordered() if user_id is None or user.id > user_id]
        return rest[:size], len(rest) > size

    def before(self, user_id: int, size: int) -> tuple[list[User], bool]:
        """Up to `size` users just below `user_id`, and whether there are more before them."""
        rest = [user for user in self.ordered() if user.id < user_id]
        return rest[-size:], len(rest) > size

    def search(self, query: str) -> list[User]:
        terms = query.split()
        return [user for user in self.users.values() if all(matches(user, term) for term in terms)]

    def with_external_id(self, external_id: str) -> list[User]:
        return [user for user in self.users.values() if user.external_id == external_id]

    def seed(self, seeds: list[TicketSeed]) -> list[dict[str, Any]]:
        now = zendesk_time(self.clock())
        for seed in seeds:
            self.tickets[seed.id] = {"created_at": now, "updated_at": now, **seed.model_dump()}
        return [self.tickets[seed.id] for seed in seeds]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        if ticket_id not in self.tickets:
            raise RecordNotFound(f"ticket {ticket_id}")
        return self.tickets[ticket_id]


Endpoint = Callable[[Request], Awaitable[Response]]


def answering_refusals(endpoint: Endpoint) -> Endpoint:
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except RecordInvalid as exc:
            body = {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": exc.details,
            }
            return JSONResponse(body, status_code=422)
        except RecordNotFound:
            return zendesk_error(404, "Not found")
        except BadPage as exc:
            return zendesk_error(400, str(exc))

    return answer


def user_request(body: Any) -> UserFields:
    try:
        return UserRequest.model_validate(body).user
    except ValidationError as exc:
        details: Details = {}
        for error in exc.errors():
            field = str(error["loc"][-1]) if error["loc"] else "user"
            details.setdefault(field, []).append(
                {"description": f"{field}: {error['msg']}", "error": "InvalidValue"}
            )
        raise RecordInvalid(details) from exc


class ZendeskEndpoints:
    def __init__(self, helpdesk: Helpdesk) -> None:
        self.helpdesk = helpdesk

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/api/v2/users/create_or_update", "POST", self.create_or_update),
            ("/api/v2/users", "GET", self.list_users),
            ("/api/v2/users.json", "GET", self.list_users),
            ("/api/v2/users/search", "GET", self.search_users),
            ("/api/v2/users/{user_id:int}", "GET", self.show_user),
            ("/api/v2/tickets/{ticket_id:int}", "GET", self.show_ticket),
        ]
        return [
            Route(path, answering_refusals(endpoint), methods=[method]) for path, method, endpoint in table
        ]

    def control_routes(self) -> list[Route]:
        return [Route(f"{CONTROL_PREFIX}tickets", self.seed_tickets, methods=["POST"])]

    async def create_or_update(self, request: Request) -> Response:
        fields = user_request(json_object(await request.body()))
        user, created = self.helpdesk.create_or_update(fields)
        body = {"user": user.as_json(str(request.base_url))}
        return JSONResponse(body, status_code=201 if created else 200)

    async def list_users(self, request: Request) -> Response:
        """Cursor pagination with `page[size]` (at most 100), else Zendesk's offset pagination."""
        base_url, params = str(request.base_url), request.query_params
        list_url = f"{base_url}api/v2/users.json"
        if "page[size]" not in params:
            everyone = [user.as_json(base_url) for user in self.helpdesk.ordered()]
            return JSONResponse(offset_page("users", everyone, params, list_url))
        size = page_size(params, "page[size]")
        if "page[before]" in params and "page[after]" not in params:
            users, has_more = self.helpdesk.before(cursor_position(params["page[before]"]), size)
        else:
            after = params.get("page[after]")
            users, has_more = self.helpdesk.after(None if after is None else cursor_position(after), size)
        rendered = [user.as_json(base_url) for user in users]
        return JSONResponse(cursor_page("users", rendered, has_more, size, list_url))

    async def show_user(self, request: Request) -> Response:
        user = self.helpdesk.user(request.path_params["user_id"])
        return JSONResponse({"user": user.as_json(str(request.base_url))})

    async def search_users(self, request: Request) -> Response:
        external_id, query = request.query_params.get("external_id"), request.query_params.get("query")
        if external_id is None and query is None:
            return zendesk_error(400, "Search needs query or external_id.")
        helpdesk = self.helpdesk
        found = (
            helpdesk.search(query or "") if external_id is None else helpdesk.with_external_id(external_id)
        )
        users = [user.as_json(str(request.base_url)) for user in found]
        return JSONResponse({"users": users, "count": len(users)})

    async def show_ticket(self, request: Request) -> Response:
        ticket = self.helpdesk.ticket(request.path_params["ticket_id"])
        return JSONResponse({"ticket": ticket_json(ticket, str(request.base_url))})

    async def seed_tickets(self, request: Request) -> Response:
        try:
            seeds = TicketSeeds.model_validate(json_object(await request.body())).tickets
        except ValidationError as exc:
            return invalid("invalid tickets", validation_problems(exc))
        tickets = [ticket_json(ticket, str(request.base_url)) for ticket in self.helpdesk.seed(seeds)]
        return JSONResponse({"tickets": tickets}, status_code=201)


def ticket_json(ticket: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {"url": f"{base_url}api/v2/tickets/{ticket['id']}.json", **ticket}


def api_token_guard(api_token: str) -> Guard:
    """Zendesk API tokens: Basic `{email}/token:{token}`, any email."""

    def guard(incoming: Incoming) -> Response | None:
        credentials = basic_credentials(incoming.headers.get("authorization"))
        if credentials is None or not credentials[0].endswith("/token"):
            return zendesk_error(401, "")
        return None if secret_matches(credentials[1], api_token) else zendesk_error(401, "")

    return guard


def create_zendesk_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    endpoints = ZendeskEndpoints(Helpdesk(clock))
    vendor = VendorProfile(
        routes=endpoints.routes(),
        state=endpoints.helpdesk,
        error=zendesk_error,
        guard=api_token_guard(settings.zendesk_api_token),
        control_routes=[
            *endpoints.control_routes(),
            emit_route(emit.zendesk(settings.helpdesk_webhook_secret)),
        ],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock)
