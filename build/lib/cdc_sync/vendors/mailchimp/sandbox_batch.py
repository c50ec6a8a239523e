"""`POST /3.0/lists/{list_id}`: batch subscribe or update up to 500 members.

Each member has the *add* shape with a required `status` and no `status_if_new` (ignored, as
Mailchimp ignores fields it does not know here). The answer is 200 even when members fail.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict

from cdc_sync.sandbox.bodies import assembled, encoded
from cdc_sync.sandbox.effects import EffectLedger, ItemAnswer
from cdc_sync.vendors.mailchimp.sandbox_members import (
    Audiences,
    Invalid,
    Member,
    MemberState,
    MemberStatus,
    checked_email,
    parsed,
    subscriber_hash,
)

MAX_BATCH = 500
NEW, UPDATED, ERRORS = "new_members", "updated_members", "errors"
OUTCOMES = frozenset({NEW, UPDATED})
TOTALS = {"total_created": NEW, "total_updated": UPDATED, "error_count": ERRORS}
# An existing member in one of these states cannot be put back to `subscribed` by an API call.
RESUBSCRIBE_REFUSALS: dict[MemberState, str] = {
    "unsubscribed": "{email} has unsubscribed, and cannot be resubscribed by you.",
    "cleaned": (
        "{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
        "and cannot be subscribed."
    ),
}


class BatchMember(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email_address: str
    status: MemberStatus
    merge_fields: dict[str, Any] | None = None
    language: str | None = None


class BatchRequest(BaseModel):
    members: list[dict[str, Any]]
    update_existing: bool = False


def checked_batch(body: dict[str, Any]) -> BatchRequest:
    batch = parsed(BatchRequest, body)
    if len(batch.members) > MAX_BATCH:
        raise Invalid(f"A batch holds at most {MAX_BATCH} members, got {len(batch.members)}.")
    return batch


def checked_change(member: Member, fields: BatchMember, update_existing: bool) -> None:
    if not update_existing:
        raise Invalid(
            f"{fields.email_address} is already a list member. Use PUT to insert or update list members.",
            code="ERROR_CONTACT_EXISTS",
        )
    refusal = RESUBSCRIBE_REFUSALS.get(member.status)
    if refusal is not None and fields.status == "subscribed":
        raise Invalid(refusal.format(email=fields.email_address))


class BatchSubscribe:
    def __init__(self, audiences: Audiences, ledger: EffectLedger) -> None:
        self.audiences = audiences
        self.ledger = ledger

    def one(self, list_id: str, raw: dict[str, Any], update_existing: bool) -> tuple[str, Member]:
        """(new_members or updated_members, member) for one entry of a batch subscribe."""
        fields = parsed(BatchMember, raw)
        member_hash = subscriber_hash(checked_email(fields.email_address))
        existing = self.audiences.existing(list_id, member_hash)
        if existing is None or not existing.on_list:
            return NEW, self.audiences.add(list_id, member_hash, fields, fields.status)
        checked_change(existing, fields, update_existing)
        existing.change(fields, self.audiences.clock())
        return UPDATED, existing

    def item(
        self, list_id: str, raw: dict[str, Any], key: str | None, update: bool, target: str
    ) -> ItemAnswer:
        previous = self.ledger.answer(key, OUTCOMES) or self._already(list_id, raw, key)
        if previous is not None:
            return previous
        try:
            outcome, member = self.one(list_id, raw, update)
        except Invalid as exc:
            return ERRORS, encoded(exc.batch_error(raw.get("email_address")))
        answer = outcome, encoded(self.audiences.member_json(member))
        self.ledger.item_applied(key, target, answer)
        return answer

    def _already(self, list_id: str, raw: dict[str, Any], key: str | None) -> ItemAnswer | None:
        """The member as it is, when this key took effect already through a single request."""
        if not self.ledger.taken(key):
            return None
        email = str(raw.get("email_address") or "")
        member = self.audiences.existing(list_id, subscriber_hash(email))
        return None if member is None else (UPDATED, encoded(self.audiences.member_json(member)))

    def run(self, list_id: str, batch: BatchRequest, keys: list[str | None], target: str) -> bytes:
        parts: dict[str, list[bytes]] = {NEW: [], UPDATED: [], ERRORS: []}
        for raw, key in zip(batch.members, keys, strict=True):
            outcome, answer = self.item(list_id, raw, key, batch.update_existing, target)
            parts[outcome].append(answer)
        return assembled(parts, {total: len(parts[part]) for total, part in TOTALS.items()})
