"""The Mailchimp audience model: lists, their members and their tags, which are static segments.

Any list id exists; members are keyed by `subscriber_hash` (md5 of the lower-cased email). A tag
and a static segment of the same name are one thing: tagging a member adds it to the segment.
"""

import hashlib
import re
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdc_sync.sandbox.faults import Clock
from cdc_sync.sandbox.recorder import iso_utc

MemberStatus = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
MemberState = MemberStatus | Literal["archived"]
ARCHIVED: Final = "archived"
# The `unsubscribe_reason` Mailchimp gives a member an API call (an admin) unsubscribed.
BY_ADMIN: Final = "N/A (Unsubscribed by an admin)"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
VALIDATION_DETAIL = (
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array."
)

# What Mailchimp answers (400) when a permanently deleted address is added again.
FORGOTTEN_TITLE = "Forgotten Email Not Subscribed"
FORGOTTEN = (
    "{email} was permanently deleted and cannot be re-imported. "
    "The contact must re-subscribe to get back on the list."
)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class Invalid(Exception):
    def __init__(
        self,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        code: str = "ERROR_GENERIC",
        title: str = "",
    ):
        super().__init__(detail)
        self.detail, self.errors, self.code, self.title = detail, errors or [], code, title

    def batch_error(self, email_address: object) -> dict[str, Any]:
        """The entry a batch subscribe reports instead of a problem document."""
        fields = "; ".join(f"{error['field']}: {error['message']}" for error in self.errors)
        message = f"{self.detail} ({fields})" if fields else self.detail
        return {"email_address": email_address, "error": message, "error_code": self.code}


class NotFound(Exception):
    """The list member or segment does not exist."""


class MemberFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email_address: str
    status: MemberStatus | None = None
    status_if_new: MemberStatus | None = None
    merge_fields: dict[str, Any] | None = None
    language: str | None = None


class MemberChange(Protocol):
    """What a PUT or one entry of a batch subscribe asks to change."""

    @property
    def email_address(self) -> str: ...
    @property
    def status(self) -> MemberStatus | None: ...
    @property
    def merge_fields(self) -> dict[str, Any] | None: ...
    @property
    def language(self) -> str | None: ...


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
    last_changed: float
    tags: dict[str, None] = field(default_factory=dict)  # names, in the order they were added
    unsubscribe_reason: str | None = None
    unique_email_id: str = field(init=False)

    def __post_init__(self) -> None:
        # Stable per list and member like Mailchimp's, without drawing on a random source.
        digest = hashlib.md5(f"{self.list_id}:{self.id}".encode(), usedforsecurity=False)
        self.unique_email_id = digest.hexdigest()[:10]

    def change(self, fields: MemberChange, now: float, status: MemberState | None = None) -> None:
        new = status or fields.status or self.status
        if not new == self.status == "unsubscribed":  # staying unsubscribed keeps its reason
            self.unsubscribe_reason = BY_ADMIN if new == "unsubscribed" else None
        self.status = new
        if fields.merge_fields:
            self.merge_fields = {**self.merge_fields, **fields.merge_fields}
        self.language = self.language if fields.language is None else fields.language
        self.last_changed = now

    @property
    def on_list(self) -> bool:
        return self.status != ARCHIVED


@dataclass
class Segment:
    id: int
    name: str
    list_id: str
    created_at: float
    updated_at: float
    members: dict[str, None] = field(default_factory=dict)  # subscriber hashes

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "member_count": len(self.members),
            "type": "static",
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "list_id": self.list_id,
        }


@dataclass
class Audience:
    """One list: members by hash (in creation order, also as a list for paging) and segments."""

    list_id: str
    members: dict[str, Member] = field(default_factory=dict)
    order: list[Member] = field(default_factory=list)
    segments: dict[str, Segment] = field(default_factory=dict)  # by name
    segment_ids: dict[int, Segment] = field(default_factory=dict)
    # Subscriber hashes deleted permanently: Mailchimp refuses to import them again.
    forgotten: set[str] = field(default_factory=set)

    def get(self, member_hash: str) -> Member:
        member = self.members.get(member_hash)
        if member is None:
            raise NotFound(
                f"The requested resource could not be found: member {member_hash} of list {self.list_id}."
            )
        return member

    def segment(self, segment_id: int) -> Segment:
        segment = self.segment_ids.get(segment_id)
        if segment is None:
            raise NotFound(f"The requested resource could not be found: segment {segment_id}.")
        return segment

    def add_segment(self, segment: Segment) -> None:
        self.segments[segment.name] = segment
        self.segment_ids[segment.id] = segment

    def tag(self, member: Member, segment: Segment, active: bool, now: float) -> None:
        if active:
            member.tags[segment.name] = None
            segment.members[member.id] = None
        else:
            member.tags.pop(segment.name, None)
            segment.members.pop(member.id, None)
        segment.updated_at = now

    def member_json(self, member: Member) -> dict[str, Any]:
        return {
            "id": member.id,
            "email_address": member.email_address,
            "unique_email_id": member.unique_email_id,
            "status": member.status,
            "merge_fields": member.merge_fields,
            "language": member.language,
            "tags": [{"id": self.segments[name].id, "name": name} for name in member.tags],
            "tags_count": len(member.tags),
            "last_changed": iso_utc(member.last_changed),
            "list_id": member.list_id,
            **({"unsubscribe_reason": member.unsubscribe_reason} if member.unsubscribe_reason else {}),
        }


class Audiences:
    """Every list, created on first use; segment (tag) ids are unique across lists."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lists: dict[str, Audience] = {}
        self._segment_ids = count(1)

    def clear(self) -> None:
        self.lists.clear()
        self._segment_ids = count(1)

    def audience(self, list_id: str) -> Audience:
        audience = self.lists.get(list_id)
        if audience is None:
            audience = self.lists[list_id] = Audience(list_id)
        return audience

    def get(self, list_id: str, member_hash: str) -> Member:
        return self.audience(list_id).get(member_hash)

    def existing(self, list_id: str, member_hash: str) -> Member | None:
        return self.audience(list_id).members.get(member_hash)

    def upsert(self, list_id: str, member_hash: str, fields: MemberFields) -> Member:
        if subscriber_hash(checked_email(fields.email_address)) != member_hash:
            raise Invalid("The subscriber hash does not match the email address (md5 of its lower case).")
        member = self.audience(list_id).members.get(member_hash)
        if member is not None and member.on_list:
            member.change(fields, self.clock())
            return member
        if fields.status_if_new is None:
            raise Invalid(
                VALIDATION_DETAIL, [{"field": "status_if_new", "message": "This value is required."}]
            )
        return self.add(list_id, member_hash, fields, fields.status_if_new)

    def add(self, list_id: str, member_hash: str, fields: MemberChange, status: MemberStatus) -> Member:
        """A new member, or an archived one coming back with its merge fields and tags."""
        audience, now = self.audience(list_id), self.clock()
        if member_hash in audience.forgotten:
            raise Invalid(FORGOTTEN.format(email=fields.email_address), title=FORGOTTEN_TITLE)
        member = audience.members.get(member_hash)
        if member is None:
            member = Member(list_id, member_hash, fields.email_address, status, {}, "", now)
            audience.members[member_hash] = member
            audience.order.append(member)
        member.change(fields, now, status)
        return member

    def archive(self, list_id: str, member_hash: str) -> None:
        member = self.get(list_id, member_hash)
        member.status, member.last_changed = ARCHIVED, self.clock()

    def delete_permanent(self, list_id: str, member_hash: str) -> None:
        """Erase the member and its tags for good; its address cannot be imported again."""
        audience, member = self.audience(list_id), self.get(list_id, member_hash)
        for name in member.tags:
            audience.segments[name].members.pop(member_hash, None)
        del audience.members[member_hash]
        audience.order.remove(member)
        audience.forgotten.add(member_hash)

    def named_segment(self, list_id: str, name: str) -> Segment:
        """The tag (static segment) of that name, created on first use as Mailchimp does."""
        audience = self.audience(list_id)
        segment = audience.segments.get(name)
        if segment is None:
            now = self.clock()
            segment = Segment(next(self._segment_ids), name, list_id, now, now)
            audience.add_segment(segment)
        return segment

    def tag(self, list_id: str, member_hash: str, changes: list[TagChange]) -> None:
        audience, member = self.audience(list_id), self.get(list_id, member_hash)
        for change in changes:
            segment = self.named_segment(list_id, change.name)
            audience.tag(member, segment, change.status == "active", self.clock())

    def page(
        self, list_id: str, count: int, offset: int, since: float | None = None
    ) -> tuple[list[Member], int]:
        """Members in creation order (those changed at or after `since`, when given)."""
        members = self.audience(list_id).order
        if since is not None:
            members = [member for member in members if member.last_changed >= since]
        return members[offset : offset + count], len(members)

    def member_json(self, member: Member) -> dict[str, Any]:
        return self.audience(member.list_id).member_json(member)
