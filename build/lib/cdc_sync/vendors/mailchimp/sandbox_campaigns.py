"""Regular campaigns to a saved segment, as Mailchimp runs them: `POST /3.0/campaigns` (status
`save`), `POST /3.0/campaigns/{id}/actions/send` (204; `sending`, then `sent` a moment later, with
`emails_sent` = the segment's subscribed members), `GET /3.0/campaigns/{id}`. A campaign is sent
once: a second send is refused, as Mailchimp refuses it."""

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.recorder import iso_utc
from cdc_sync.vendors.mailchimp.sandbox_http import Endpoint, answering_problems, json_body
from cdc_sync.vendors.mailchimp.sandbox_members import Audiences, Invalid, NotFound, parsed

SENDING_S = 1.0  # how long a campaign stays `sending`
RECEIVES = frozenset({"subscribed"})  # who a regular campaign is sent to


class SegmentOpts(BaseModel):
    saved_segment_id: int


class Recipients(BaseModel):
    list_id: str = Field(min_length=1)
    segment_opts: SegmentOpts | None = None


class Settings(BaseModel):
    model_config = ConfigDict(extra="allow")

    subject_line: str = Field(min_length=1, max_length=150)
    from_name: str = Field(min_length=1)
    reply_to: str = Field(min_length=3)
    title: str | None = None
    template_id: int | None = None


class NewCampaign(BaseModel):
    type: Literal["regular"]
    recipients: Recipients
    settings: Settings


@dataclass
class Campaign:
    id: str
    order: NewCampaign
    created_at: float
    recipients: list[str] = field(default_factory=list)  # emails, fixed when it is sent
    sent_at: float | None = None

    def status(self, now: float) -> str:
        if self.sent_at is None:
            return "save"
        return "sending" if now < self.sent_at + SENDING_S else "sent"

    def as_json(self, now: float, recipient_count: int) -> dict[str, Any]:
        status = self.status(now)
        return {
            "id": self.id,
            "type": "regular",
            "status": status,
            "create_time": iso_utc(self.created_at),
            "send_time": iso_utc(self.sent_at) if self.sent_at is not None else "",
            "emails_sent": len(self.recipients) if status == "sent" else 0,
            "recipients": {**self.order.recipients.model_dump(), "recipient_count": recipient_count},
            "settings": self.order.settings.model_dump(exclude_none=True),
        }


class CampaignEndpoints:
    def __init__(self, audiences: Audiences) -> None:
        self.audiences = audiences
        self.campaigns: dict[str, Campaign] = {}

    def clear(self) -> None:
        self.campaigns.clear()

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/3.0/campaigns", "POST", self.create),
            ("/3.0/campaigns/{campaign_id}", "GET", self.show),
            ("/3.0/campaigns/{campaign_id}/actions/send", "POST", self.send),
        ]
        return [Route(path, answering_problems(call), methods=[method]) for path, method, call in table]

    def _emails(self, order: NewCampaign) -> list[str]:
        audience = self.audiences.audience(order.recipients.list_id)
        members = [m for m in audience.order if m.status in RECEIVES]
        opts = order.recipients.segment_opts
        if opts is None:
            return [m.email_address for m in members]
        segment = audience.segment(opts.saved_segment_id)
        return [m.email_address for m in members if m.id in segment.members]

    def _campaign(self, request: Request) -> Campaign:
        found = self.campaigns.get(request.path_params["campaign_id"])
        if found is None:
            raise NotFound(
                f"The requested resource could not be found: campaign {request.path_params['campaign_id']}."
            )
        return found

    async def create(self, request: Request) -> Response:
        order = parsed(NewCampaign, await json_body(request))
        self._emails(order)  # the list and saved segment must exist (404 otherwise)
        campaign = Campaign(uuid.uuid4().hex[:10], order, self.audiences.clock())
        self.campaigns[campaign.id] = campaign
        return FastJSONResponse(campaign.as_json(self.audiences.clock(), len(self._emails(order))))

    async def show(self, request: Request) -> Response:
        campaign = self._campaign(request)
        count = (
            len(campaign.recipients) if campaign.sent_at is not None else len(self._emails(campaign.order))
        )
        return FastJSONResponse(campaign.as_json(self.audiences.clock(), count))

    async def send(self, request: Request) -> Response:
        campaign = self._campaign(request)
        if campaign.sent_at is not None:
            raise Invalid("This campaign has already been sent and cannot be sent again.")
        campaign.recipients, campaign.sent_at = self._emails(campaign.order), self.audiences.clock()
        return Response(status_code=204)
