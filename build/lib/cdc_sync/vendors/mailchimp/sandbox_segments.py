"""Static segments (the same things as tags): list, create, show, and batch add/remove members.

`POST /3.0/lists/{list_id}/segments/{segment_id}` takes up to 500 emails in each of
`members_to_add` and `members_to_remove`. Emails not on the list are refused in `errors`, and no
member's subscription status changes.
"""

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdc_sync.sandbox.bodies import FastJSONResponse, assembled, encoded
from cdc_sync.sandbox.effects import EffectLedger, ItemAnswer, item_keys, request_target
from cdc_sync.vendors.mailchimp.sandbox_http import (
    Endpoint,
    answering_problems,
    json_body,
    json_bytes,
    paging,
)
from cdc_sync.vendors.mailchimp.sandbox_members import (
    Audience,
    Audiences,
    Invalid,
    Segment,
    parsed,
    subscriber_hash,
)

MAX_CHANGES = 500
ADDED, REMOVED = "members_added", "members_removed"
NOT_ON_LIST = "Email address is not a member of this list."
SEGMENT_TYPES = frozenset({"static"})  # the only kind this sandbox has


class NewSegment(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    static_segment: list[str] = Field(default_factory=list)


class MemberChanges(BaseModel):
    members_to_add: list[str] = Field(default_factory=list)
    members_to_remove: list[str] = Field(default_factory=list)


def checked_changes(body: dict[str, Any]) -> MemberChanges:
    changes = parsed(MemberChanges, body)
    for name, emails in (
        ("members_to_add", changes.members_to_add),
        ("members_to_remove", changes.members_to_remove),
    ):
        if len(emails) > MAX_CHANGES:
            raise Invalid(f"{name} holds at most {MAX_CHANGES} emails, got {len(emails)}.")
    return changes


def grouped_errors(failed: list[str]) -> list[dict[str, Any]]:
    return [{"email_addresses": failed, "error": NOT_ON_LIST}] if failed else []


class SegmentEdit:
    """One batch add/remove on a segment, item by item."""

    def __init__(self, audience: Audience, segment: Segment, ledger: EffectLedger, now: float) -> None:
        self.audience, self.segment, self.ledger, self.now = audience, segment, ledger, now
        self.parts: dict[str, list[bytes]] = {ADDED: [], REMOVED: []}
        self.failed: list[str] = []

    def item(self, email: str, key: str | None, outcome: str, target: str) -> None:
        previous = self.ledger.answer(key, frozenset({outcome}))
        if previous is None and self.ledger.taken(key):  # took effect through a single request
            member = self.audience.members.get(subscriber_hash(email))
            previous = None if member is None else (outcome, encoded(self.audience.member_json(member)))
        if previous is None:
            previous = self.applied(email, outcome)
            if previous is None:
                self.failed.append(email)
                return
            self.ledger.item_applied(key, target, previous)
        self.parts[outcome].append(previous[1])

    def applied(self, email: str, outcome: str) -> ItemAnswer | None:
        member = self.audience.members.get(subscriber_hash(email))
        if member is None or not member.on_list:
            return None
        self.audience.tag(member, self.segment, outcome == ADDED, self.now)
        return outcome, encoded(self.audience.member_json(member))

    def answer(self) -> bytes:
        added, removed = len(self.parts[ADDED]), len(self.parts[REMOVED])
        totals = {"total_added": added, "total_removed": removed, "error_count": len(self.failed)}
        return assembled(self.parts, {"errors": grouped_errors(self.failed), **totals})


class SegmentEndpoints:
    def __init__(self, audiences: Audiences, ledger: EffectLedger) -> None:
        self.audiences = audiences
        self.ledger = ledger

    def routes(self) -> list[Route]:
        segments = "/3.0/lists/{list_id}/segments"
        table: list[tuple[str, str, Endpoint]] = [
            (segments, "GET", self.list_segments),
            (segments, "POST", self.create_segment),
            (segments + "/{segment_id:int}", "GET", self.show_segment),
            (segments + "/{segment_id:int}", "POST", self.change_members),
            (segments + "/{segment_id:int}/members", "GET", self.list_members),
        ]
        return [Route(path, answering_problems(call), methods=[method]) for path, method, call in table]

    def _segment(self, request: Request) -> tuple[Audience, Segment]:
        audience = self.audiences.audience(request.path_params["list_id"])
        return audience, audience.segment(request.path_params["segment_id"])

    async def list_segments(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        count, offset = paging(request)
        segments = list(self.audiences.audience(list_id).segments.values())
        if request.query_params.get("type", "static") not in SEGMENT_TYPES:
            segments = []
        rendered = [segment.as_json() for segment in segments[offset : offset + count]]
        return FastJSONResponse({"segments": rendered, "list_id": list_id, "total_items": len(segments)})

    async def create_segment(self, request: Request) -> Response:
        list_id, order = request.path_params["list_id"], parsed(NewSegment, await json_body(request))
        if order.name in self.audiences.audience(list_id).segments:
            raise Invalid(f"A segment or tag named {order.name!r} already exists on this list.")
        segment = self.audiences.named_segment(list_id, order.name)
        edit = SegmentEdit(self.audiences.audience(list_id), segment, self.ledger, self.audiences.clock())
        for email in order.static_segment:
            edit.applied(email, ADDED)  # emails not on the list are left out, as Mailchimp does
        return FastJSONResponse(segment.as_json())

    async def show_segment(self, request: Request) -> Response:
        return FastJSONResponse(self._segment(request)[1].as_json())

    async def list_members(self, request: Request) -> Response:
        """The segment's members, `count`/`offset` paged, in the order they joined it."""
        audience, segment = self._segment(request)
        count, offset = paging(request)
        members = [audience.members[member_id] for member_id in segment.members]
        page = [audience.member_json(member) for member in members[offset : offset + count]]
        return FastJSONResponse({"members": page, "total_items": len(members)})

    async def change_members(self, request: Request) -> Response:
        audience, segment = self._segment(request)
        changes = checked_changes(await json_body(request))
        items = [(email, ADDED) for email in changes.members_to_add]
        items += [(email, REMOVED) for email in changes.members_to_remove]
        keys = item_keys(request, len(items))
        edit = SegmentEdit(audience, segment, self.ledger, self.audiences.clock())
        target = request_target(request)
        for (email, outcome), key in zip(items, keys, strict=True):
            edit.item(email, key, outcome, target)
        return json_bytes(edit.answer())
