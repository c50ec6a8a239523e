"""Which CRM contact a call is with, pure, in this order: the contact the call center names
(`customer_id`) → the one contact with that number (E.164) → among several, the most recently
active one the call's agent owns (flagged ambiguous for review) → none: a new lead."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    contact_id: int
    phone_e164: str | None
    owner_id: int | None
    last_active_at: datetime


@dataclass(frozen=True)
class Match:
    contact_id: int | None  # None: create a lead
    ambiguous: bool
    reason: str

    @property
    def create_lead(self) -> bool:
        return self.contact_id is None


def match_contact(
    named: int | None, phone_e164: str | None, candidates: Sequence[Candidate], agent_user_id: int | None
) -> Match:
    """`named`: the contact the call center's `customer_id` maps to, if it exists in the CRM."""
    if named is not None:
        return Match(named, False, "named by the call center")
    same = [c for c in candidates if phone_e164 is not None and c.phone_e164 == phone_e164]
    if len(same) == 1:
        return Match(same[0].contact_id, False, "the one contact with this number")
    if not same:
        return Match(None, False, "no contact with this number: a new lead")
    owned = [c for c in same if agent_user_id is not None and c.owner_id == agent_user_id] or same
    chosen = max(owned, key=lambda c: (c.last_active_at, c.contact_id))
    reason = f"{len(same)} contacts with this number; the most recently active" + (
        " one the agent owns" if owned is not same else ""
    )
    return Match(chosen.contact_id, True, reason)
