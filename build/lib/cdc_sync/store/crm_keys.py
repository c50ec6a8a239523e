"""Keys of the CRM rows reconciliation compares: contacts, their tag and subscription rows,
and the tag vocabulary. The rows themselves are read by `outbound.fresh.current_events`."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, text

CONTACTS = "public.contacts"
CONTACT_TAGS = "public.contact_tags"
SUBSCRIPTIONS = "public.subscriptions"

_CONTACT_IDS = text("SELECT id FROM contacts ORDER BY id")
_TAG_KEYS = text(
    "SELECT contact_id, tag_id FROM contact_tags WHERE contact_id = ANY(:ids) ORDER BY contact_id, tag_id"
).bindparams(bindparam("ids"))
_SUBSCRIPTION_KEYS = text(
    "SELECT contact_id FROM subscriptions WHERE contact_id = ANY(:ids) ORDER BY contact_id"
).bindparams(bindparam("ids"))
_TAGS = text("SELECT id, name FROM tags")


def contact_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(_CONTACT_IDS)]


def row_keys(engine: Engine, contacts: Sequence[int]) -> dict[str, list[dict[str, Any]]]:
    """Primary keys of the contacts and of their contact_tags and subscriptions rows, by table."""
    ids = list(contacts)
    with engine.connect() as conn:
        tags = conn.execute(_TAG_KEYS, {"ids": ids}).mappings().all()
        subscriptions = conn.execute(_SUBSCRIPTION_KEYS, {"ids": ids}).mappings().all()
    return {
        CONTACTS: [{"id": contact} for contact in ids],
        CONTACT_TAGS: [dict(row) for row in tags],
        SUBSCRIPTIONS: [dict(row) for row in subscriptions],
    }


def tag_ids(engine: Engine) -> dict[str, int]:
    """Tag name (trimmed, as mapping sends it) → id."""
    with engine.connect() as conn:
        return {str(name).strip(): int(tag_id) for tag_id, name in conn.execute(_TAGS)}
