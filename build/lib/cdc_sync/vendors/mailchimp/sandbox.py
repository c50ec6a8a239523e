"""Mailchimp Marketing API 3.0 sandbox: list members, their tags, batch subscribe and static
segments (see `mailchimp_members`, `mailchimp_batch` and `mailchimp_segments`)."""

import base64
import time
from random import Random
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.control import StateGroup
from cdc_sync.sandbox.effects import EffectLedger, item_keys, request_target
from cdc_sync.sandbox.emit import emit_route
from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.gate import Guard, VendorProfile, basic_credentials, sandbox_app, secret_matches
from cdc_sync.sandbox.recorder import Incoming, recorder_for
from cdc_sync.vendors.mailchimp.sandbox_batch import BatchSubscribe, checked_batch
from cdc_sync.vendors.mailchimp.sandbox_campaigns import CampaignEndpoints
from cdc_sync.vendors.mailchimp.sandbox_emit import mailchimp
from cdc_sync.vendors.mailchimp.sandbox_http import (
    Endpoint,
    answering_problems,
    json_body,
    json_bytes,
    paging,
    problem,
    since_param,
)
from cdc_sync.vendors.mailchimp.sandbox_members import (
    Audiences,
    MemberFields,
    TagsRequest,
    parsed,
    subscriber_hash,
)
from cdc_sync.vendors.mailchimp.sandbox_segments import SegmentEndpoints
from cdc_sync.vendors.options import VendorOptions

if TYPE_CHECKING:
    from cdc_sync.sandbox.server import SandboxSettings

DEFAULT_MARKETING_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"sandbox-marketing-webhook-secret").decode()

__all__ = ["create_mailchimp_app", "subscriber_hash"]


class MailchimpEndpoints:
    def __init__(self, audiences: Audiences, ledger: EffectLedger) -> None:
        self.audiences = audiences
        self.batches = BatchSubscribe(audiences, ledger)

    def routes(self) -> list[Route]:
        members = "/3.0/lists/{list_id}/members"
        table: list[tuple[str, str, Endpoint]] = [
            ("/3.0/lists/{list_id}", "POST", self.batch),
            (members, "GET", self.list_members),
            (members + "/{member_hash}", "GET", self.get_member),
            (members + "/{member_hash}", "PUT", self.put_member),
            (members + "/{member_hash}", "DELETE", self.archive_member),
            (members + "/{member_hash}/tags", "POST", self.post_tags),
            (members + "/{member_hash}/actions/delete-permanent", "POST", self.delete_permanent),
        ]
        return [
            Route(path, answering_problems(endpoint), methods=[method]) for path, method, endpoint in table
        ]

    async def put_member(self, request: Request) -> Response:
        list_id, member_hash = request.path_params["list_id"], request.path_params["member_hash"]
        fields = parsed(MemberFields, await json_body(request))
        member = self.audiences.upsert(list_id, member_hash, fields)
        return FastJSONResponse(self.audiences.member_json(member))

    async def get_member(self, request: Request) -> Response:
        member = self.audiences.get(request.path_params["list_id"], request.path_params["member_hash"])
        return FastJSONResponse(self.audiences.member_json(member))

    async def archive_member(self, request: Request) -> Response:
        self.audiences.archive(request.path_params["list_id"], request.path_params["member_hash"])
        return Response(status_code=204)

    async def delete_permanent(self, request: Request) -> Response:
        self.audiences.delete_permanent(request.path_params["list_id"], request.path_params["member_hash"])
        return Response(status_code=204)

    async def post_tags(self, request: Request) -> Response:
        list_id, member_hash = request.path_params["list_id"], request.path_params["member_hash"]
        changes = parsed(TagsRequest, await json_body(request)).tags
        self.audiences.tag(list_id, member_hash, changes)
        return Response(status_code=204)

    async def list_members(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        count, offset = paging(request)
        since = since_param(request, "since_last_changed")
        members, total = self.audiences.page(list_id, count, offset, since)
        rendered = [self.audiences.member_json(member) for member in members]
        return FastJSONResponse({"members": rendered, "list_id": list_id, "total_items": total})

    async def batch(self, request: Request) -> Response:
        batch = checked_batch(await json_body(request))
        keys = item_keys(request, len(batch.members))
        list_id = request.path_params["list_id"]
        return json_bytes(self.batches.run(list_id, batch, keys, request_target(request)))


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


class MailchimpSandboxSettings(VendorOptions):
    """The marketing sandbox's own settings (flat keys of `SandboxSettings`)."""

    mailchimp_api_key: str = "sandbox-mailchimp-key"
    # What it signs engagement webhooks to cdc-sync with (`ops/stack.sh env` gives cdc-sync the same).
    marketing_webhook_secret: str = DEFAULT_MARKETING_WEBHOOK_SECRET


def create_mailchimp_app(
    settings: "SandboxSettings", *, rng: Random | None = None, clock: Clock = time.time
) -> Starlette:
    own = MailchimpSandboxSettings.of(settings)
    audiences, recorder = Audiences(clock), recorder_for(settings, clock)
    endpoints, campaigns = MailchimpEndpoints(audiences, recorder.effects), CampaignEndpoints(audiences)
    routes = [
        *endpoints.routes(),
        *SegmentEndpoints(audiences, recorder.effects).routes(),
        *campaigns.routes(),
    ]
    vendor = VendorProfile(
        routes=routes,
        state=StateGroup(audiences, campaigns),
        error=problem,
        guard=api_key_guard(own.mailchimp_api_key),
        control_routes=[emit_route(mailchimp(own.marketing_webhook_secret))],
    )
    return sandbox_app(vendor, settings.faults, rng or Random(), clock, recorder)
