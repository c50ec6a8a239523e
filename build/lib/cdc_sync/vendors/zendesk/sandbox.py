"""Zendesk Support API sandbox: users (create_or_update, create_or_update_many as a background
job, list, show, search, delete, then delete permanently from `deleted_users`) and seeded tickets
(show, update with collision protection, the incremental export). The model is in
`sandbox_users`, the jobs in `sandbox_jobs`, ticket updates and the export in `sandbox_tickets`."""

import asyncio
import time
from random import Random
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.control import CONTROL_PREFIX, StateGroup, invalid, validation_problems
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, basic_credentials, sandbox_app, secret_matches
from cdc_sync.sandbox.recorder import Incoming, json_object, recorder_for
from cdc_sync.vendors.options import VendorOptions
from cdc_sync.vendors.zendesk.sandbox_emit import zendesk
from cdc_sync.vendors.zendesk.sandbox_http import Endpoint, answering_refusals, zendesk_error
from cdc_sync.vendors.zendesk.sandbox_jobs import JobBoard, JobEndpoints, Sleep
from cdc_sync.vendors.zendesk.sandbox_pages import cursor_page, cursor_position, offset_page, page_size
from cdc_sync.vendors.zendesk.sandbox_tickets import TicketEndpoints
from cdc_sync.vendors.zendesk.sandbox_users import Helpdesk, TicketSeeds, user_request

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

__all__ = ["create_zendesk_app", "zendesk_error"]


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
            ("/api/v2/users/{user_id:int}", "DELETE", self.delete_user),
            ("/api/v2/deleted_users/{user_id:int}", "GET", self.show_deleted_user),
            ("/api/v2/deleted_users/{user_id:int}", "DELETE", self.delete_permanently),
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
        return FastJSONResponse(body, status_code=201 if created else 200)

    async def list_users(self, request: Request) -> Response:
        """Cursor pagination with `page[size]` (at most 100), else Zendesk's offset pagination."""
        base_url, params = str(request.base_url), request.query_params
        list_url = f"{base_url}api/v2/users.json"
        if "page[size]" not in params:
            page = offset_page("users", self.helpdesk.ordered(), params, list_url)
            page["users"] = [user.as_json(base_url) for user in page["users"]]
            return FastJSONResponse(page)
        size = page_size(params, "page[size]")
        if "page[before]" in params and "page[after]" not in params:
            users, has_more = self.helpdesk.before(cursor_position(params["page[before]"]), size)
        else:
            after = params.get("page[after]")
            users, has_more = self.helpdesk.after(None if after is None else cursor_position(after), size)
        rendered = [user.as_json(base_url) for user in users]
        return FastJSONResponse(cursor_page("users", rendered, has_more, size, list_url))

    async def show_user(self, request: Request) -> Response:
        user = self.helpdesk.user(request.path_params["user_id"])
        return FastJSONResponse({"user": user.as_json(str(request.base_url))})

    async def delete_user(self, request: Request) -> Response:
        user = self.helpdesk.delete(request.path_params["user_id"])
        return FastJSONResponse({"user": user.as_json(str(request.base_url))})

    async def show_deleted_user(self, request: Request) -> Response:
        user = self.helpdesk.deleted_user(request.path_params["user_id"])
        return FastJSONResponse({"deleted_user": user.as_json(str(request.base_url))})

    async def delete_permanently(self, request: Request) -> Response:
        user = self.helpdesk.delete_permanently(request.path_params["user_id"])
        return FastJSONResponse({"deleted_user": {"id": user.id, "name": "Permanently Deleted User"}})

    async def search_users(self, request: Request) -> Response:
        external_id, query = request.query_params.get("external_id"), request.query_params.get("query")
        if external_id is None and query is None:
            return zendesk_error(400, "Search needs query or external_id.")
        helpdesk = self.helpdesk
        found = (
            helpdesk.search(query or "") if external_id is None else helpdesk.with_external_id(external_id)
        )
        users = [user.as_json(str(request.base_url)) for user in found]
        return FastJSONResponse({"users": users, "count": len(users)})

    async def show_ticket(self, request: Request) -> Response:
        ticket = self.helpdesk.ticket(request.path_params["ticket_id"])
        return FastJSONResponse({"ticket": ticket_json(ticket, str(request.base_url))})

    async def seed_tickets(self, request: Request) -> Response:
        try:
            seeds = TicketSeeds.model_validate(json_object(await request.body())).tickets
        except ValidationError as exc:
            return invalid("invalid tickets", validation_problems(exc))
        tickets = [ticket_json(ticket, str(request.base_url)) for ticket in self.helpdesk.seed(seeds)]
        return FastJSONResponse({"tickets": tickets}, status_code=201)


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


class ZendeskSandboxSettings(VendorOptions):
    """The helpdesk sandbox's own settings (flat keys of `SandboxSettings`)."""

    zendesk_api_token: str = "sandbox-zendesk-token"
    # What it signs webhooks to cdc-sync with (`ops/stack.sh env` gives cdc-sync the same).
    helpdesk_webhook_secret: str = "sandbox-helpdesk-webhook-secret"
    zendesk_job_delay_s: float = Field(default=0.005, ge=0)  # a job waits this long queued, then working


def create_zendesk_app(
    settings: "SandboxSettings",
    *,
    rng: Random | None = None,
    clock: Clock = time.time,
    sleep: Sleep | None = None,
) -> Starlette:
    own = ZendeskSandboxSettings.of(settings)
    """`sleep` is what jobs wait with before starting and while working (asyncio.sleep)."""
    recorder, helpdesk = recorder_for(settings, clock), Helpdesk(clock)
    endpoints = ZendeskEndpoints(helpdesk)
    tickets = TicketEndpoints(helpdesk, clock)
    jobs = JobBoard(helpdesk, recorder.effects, clock, own.zendesk_job_delay_s, sleep or asyncio.sleep)
    vendor = VendorProfile(
        routes=[*JobEndpoints(jobs).routes(), *endpoints.routes(), *tickets.routes()],
        state=StateGroup(jobs, helpdesk),
        error=zendesk_error,
        guard=api_token_guard(own.zendesk_api_token),
        control_routes=[
            *endpoints.control_routes(),
            emit_route(zendesk(own.helpdesk_webhook_secret)),
        ],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock, recorder)
