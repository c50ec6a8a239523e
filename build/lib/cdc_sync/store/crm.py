"""Reads from the CRM that mapping needs beside the change itself (fetched per consumed batch)."""

from collections.abc import Iterable

from sqlalchemy import Engine, bindparam, text

from cdc_sync.model.lookups import Lookups

_CONTACTS = text("SELECT id, email, country FROM contacts WHERE id = ANY(:ids)").bindparams(bindparam("ids"))
_TAGS = text("SELECT id, name FROM tags WHERE id = ANY(:ids)").bindparams(bindparam("ids"))


def fetch_lookups(engine: Engine, contact_ids: Iterable[int], tag_ids: Iterable[int]) -> Lookups:
    contacts, tags = sorted(set(contact_ids)), sorted(set(tag_ids))
    if not contacts and not tags:
        return Lookups()
    with engine.connect() as conn:
        contact_rows = conn.execute(_CONTACTS, {"ids": contacts}).mappings().all() if contacts else []
        tag_rows = conn.execute(_TAGS, {"ids": tags}).all() if tags else []
    return Lookups(
        contacts={int(row["id"]): dict(row) for row in contact_rows},
        tags={int(tag_id): str(name) for tag_id, name in tag_rows},
    )
