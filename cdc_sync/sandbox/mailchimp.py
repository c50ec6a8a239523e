"""Mailchimp Marketing API 3.0 sandbox: list members, their tags and batch subscribe.

Any list id exists; members are keyed by `subscriber_hash` (md5 of the lower-cased email).
"""

import hashlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from random import Random
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdc_sync.sandbox import emit
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, basic_credentials, sandbox_app, secret_matches
from cdc_sync.sandbox.recorder import Incoming, iso_utc, json_object

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

MemberStatus = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
MemberState = MemberStatus | Literal["archived"]
ARCHIVED: Final = "archived"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_BATCH = 500
MAX_PAGE = 1000
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    404: "Resource Not Found",
    429: "Too Many Requests",
}
VALIDATION_DETAIL = (
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array."
)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class Invalid(Exception):
    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None, code: str = "ERROR_GENERIC"):
        super().__init__(detail)
        self.detail, self.errors, self.code = detail, errors or [], code

    def batch_error(self, email_address: object) -> dict[str, Any]:
        """The entry a batch subscribe reports instead of a problem document."""
        fields = "; ".join(f"{error['field']}: {error['message']}" for error in self.errors)
        message = f"{self.detail} ({fields})" if fields else self.detail
        return {"email_address": email_address, "error": message, "error_code": self.code}


class NotFound(Exception):
    """The list member does not exist."""


class MemberFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email_address: str
    status: MemberStatus | None = None
    status_if_new: MemberStatus | None = None
    merge_fields: dict[str, Any] | None = None
    language: str | None = None


class BatchRequest(BaseModel):
    members: list[dict[str, Any]]
    update_existing: bool = False


class TagChange(BaseModel):
    name: str = Field(min_length=1)
    status: Literal["active", "inactive"]


class TagsRequest(BaseModel):
    tags: list[TagChange]


Model = TypeVar("Model", bound=BaseModel)


def parsed(model: type[Model], body: Any) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(VALIDATION_DETAIL, errors) from exc


def checked_email(email: str) -> str:
    if not EMAIL.match(email):
        raise Invalid(f"{email} looks fake or invalid, please enter a real email address.")
    return email


@dataclass
class Member:
    list_id: str
    id: str
    email_address: str
    status: MemberState
    merge_fields: dict[str, Any]
    language: str
    tags: list[str]
    last_changed: float

    def change(self, fields: MemberFields, now: float) -> None:
        self.status = fields.status or self.status
        self.merge_fields = {**self.merge_fields, **(fields.merge_fields or {})}
        self.language = self.language if fields.language is None else fields.language
        self.last_changed = now


class Audiences:
    """Every list's members, in creation order, and the tag ids (shared across lists)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.members: dict[tuple[str, str], Member] = {}
        self.tag_ids: dict[str, int] = {}

    def clear(self) -> None:
        self.members.clear()
        self.tag_ids.clear()

    def get(self, list_id: str, member_hash: str) -> Member:
        member = self.members.get((list_id, member_hash))
        if member is None:
            raise NotFound(
                f"The requested resource could not be found: member {member_hash} of list {list_id}."
            )
        return member

    def upsert(self, list_id: str, member_hash: str, fields: MemberFields) -> Member:
        if subscriber_hash(checked_email(fields.email_address)) != member_hash:
            raise Invalid("The subscriber hash does not match the email address (md5 of its lower case).")
        member = self.members.get((list_id, member_hash))
        if member is not None and member.status != ARCHIVED:
            member.change(fields, self.clock())
            return member
        if fields.status_if_new is None:
            raise Invalid(
                VALIDATION_DETAIL, [{"field": "status_if_new", "message": "This value is required."}]
            )
        return self._add(list_id, fields, fields.status_if_new)

    def _add(self, list_id: str, fields: MemberFields, status: MemberStatus) -> Member:
        """A new member, or an archived one coming back with its merge fields and tags."""
        email, now = fields.email_address, self.clock()
        key = (list_id, subscriber_hash(email))
        member = self.members.get(key) or Member(list_id, key[1], email, status, {}, "", [], now)
        member.change(fields.model_copy(update={"status": status}), now)
        self.members[key] = member
        return member

    def archive(self, list_id: str, member_hash: str) -> None:
        member = self.get(list_id, member_hash)
        member.status, member.last_changed = ARCHIVED, self.clock()

    def tag(self, list_id: str, member_hash: str, changes: list[TagChange]) -> None:
        member = self.get(list_id, member_hash)
        for change in changes:
            self.tag_ids.setdefault(change.name, len(self.tag_ids) + 1)
            if change.status == "active" and change.name not in member.tags:
                member.tags.append(change.name)
            if change.status == "inactive" and change.name in member.tags:
                member.tags.remove(change.name)

    def page(self, list_id: str, count: int, offset: int) -> tuple[list[Member], int]:
        members = [member for (owner, _), member in self.members.items() if owner == list_id]
        return members[offset : offset + count], len(members)

    def batch_one(self, list_id: str, raw: dict[str, Any], update_existing: bool) -> tuple[bool, Member]:
        """(created?, member) for one entry of a batch subscribe."""
        fields = parsed(MemberFields, raw)
        existing = self.members.get((list_id, subscriber_hash(checked_email(fields.email_address))))
        if existing is None or existing.status == ARCHIVED:
            status = fields.status_if_new or fields.status
            if status is None:
                raise Invalid(f"{fields.email_address}: status is required for a new member.")
            return True, self._add(list_id, fields, status)
        if not update_existing:
            raise Invalid(
                f"{fields.email_address} is already a list member. Use PUT to insert or update list members.",
                code="ERROR_CONTACT_EXISTS",
            )
        existing.change(fields, self.clock())
        return False, existing

    def batch(self, list_id: str, batch: BatchRequest) -> dict[str, Any]:
        if len(batch.members) > MAX_BATCH:
            raise Invalid(f"A batch holds at most {MAX_BATCH} members, got {len(batch.members)}.")
        outcome: dict[str, list[dict[str, Any]]] = {"new_members": [], "updated_members": [], "errors": []}
        for raw in batch.members:
            try:
                is_new, member = self.batch_one(list_id, raw, batch.update_existing)
            except Invalid as exc:
                outcome["errors"].append(exc.batch_error(raw.get("email_address")))
                continue
            outcome["new_members" if is_new else "updated_members"].append(self.as_json(member))
        counts = {"total_created": "new_members", "total_updated": "updated_members", "error_count": "errors"}
        return {**outcome, **{total: len(outcome[part]) for total, part in counts.items()}}

    def as_json(self, member: Member) -> dict[str, Any]:
        # Stable per list and member like Mailchimp's, without drawing on a random source.
        unique_email_id = hashlib.md5(f"{member.list_id}:{member.id}".encode(), usedforsecurity=False)
        return {
            "id": member.id,
            "email_address": member.email_address,
            "unique_email_id": unique_email_id.hexdigest()[:10],
            "status": member.status,
            "merge_fields": member.merge_fields,
            "language": member.language,
            "tags": [{"id": self.tag_ids[name], "name": name} for name in member.tags],
            "tags_count": len(member.tags),
            "last_changed": iso_utc(member.last_changed),
            "list_id": member.list_id,
        }


def problem(
    status: int, detail: str, errors: list[dict[str, str]] | None = None, title: str = ""
) -> Response:
    body: dict[str, Any] = {
        "type": ERROR_DOCS,
        "title": title or TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


Endpoint = Callable[[Request], Awaitable[Response]]


def answering_problems(endpoint: Endpoint) -> Endpoint:
    """Turn the model's refusals into Mailchimp problem documents."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Invalid as exc:
            return problem(400, exc.detail, exc.errors)
        except NotFound as exc:
            return problem(404, str(exc))

    return answer


async def json_body(request: Request) -> dict[str, Any]:
    body = json_object(await request.body())
    if body is None:
        raise Invalid("The request body must be a JSON object.")
    return body


def page_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise Invalid(f"{name} must be an integer from 0 to {maximum}, got {raw!r}.")
    return int(raw)


class MailchimpEndpoints:
    def __init__(self, audiences: Audiences) -> None:
        self.audiences = audiences

    def routes(self) -> list[Route]:
        members = "/3.0/lists/{list_id}/members"
        table: list[tuple[str, str, Endpoint]] = [
            ("/3.0/lists/{list_id}", "POST", self.batch),
            (members, "GET", self.list_members),
            (members + "/{member_hash}", "GET", self.get_member),
            (members + "/{member_hash}", "PUT", self.put_member),
            (members + "/{member_hash}", "DELETE", self.archive_member),
            (members + "/{member_hash}/tags", "POST", self.post_tags),
        ]
        return [
            Route(path, answering_problems(endpoint), methods=[method]) for path, method, endpoint in table
        ]

    async def put_member(self, request: Request) -> Response:
        list_id, member_hash = request.path_params["list_id"], request.path_params["member_hash"]
        fields = parsed(MemberFields, await json_body(request))
        return JSONResponse(self.audiences.as_json(self.audiences.upsert(list_id, member_hash, fields)))

    async def get_member(self, request: Request) -> Response:
        member = self.audiences.get(request.path_params["list_id"], request.path_params["member_hash"])
        return JSONResponse(self.audiences.as_json(member))

    async def archive_member(self, request: Request) -> Response:
        self.audiences.archive(request.path_params["list_id"], request.path_params["member_hash"])
        return Response(status_code=204)

    async def post_tags(self, request: Request) -> Response:
        list_id, member_hash = request.path_params["list_id"], request.path_params["member_hash"]
        changes = parsed(TagsRequest, await json_body(request)).tags
        self.audiences.tag(list_id, member_hash, changes)
        return Response(status_code=204)

    async def list_members(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        count, offset = page_param(request, "count", 10, MAX_PAGE), page_param(request, "offset", 0, 2**31)
        members, total = self.audiences.page(list_id, count, offset)
        rendered = [self.audiences.as_json(member) for member in members]
        return JSONResponse({"members": rendered, "list_id": list_id, "total_items": total})

    async def batch(self, request: Request) -> Response:
        batch = parsed(BatchRequest, await json_body(request))
        return JSONResponse(self.audiences.batch(request.path_params["list_id"], batch))


def api_key_guard(api_key: str) -> Guard:
    def guard(incoming: Incoming) -> Response | None:
        credentials = basic_credentials(incoming.headers.get("authorization"))
        if credentials is None:
            return problem(401, "Your request did not include an API key.", title="API Key Missing")
        if not secret_matches(credentials[1], api_key):
            detail = "Your API key may be invalid, or you've attempted to access the wrong datacenter."
            return problem(401, detail)
        return None

    return guard


def create_mailchimp_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    audiences = Audiences(clock)
    vendor = VendorProfile(
        routes=MailchimpEndpoints(audiences).routes(),
        state=audiences,
        error=problem,
        guard=api_key_guard(settings.mailchimp_api_key),
        control_routes=[emit_route(emit.mailchimp(settings.marketing_webhook_secret))],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock)
