"""A data subject in the audience: their member (by the subscriber hash of the CRM e-mail), and its
permanent deletion, after which Mailchimp refuses to import the address again."""

from typing import Any

from cdc_sync.errors import ConfigError
from cdc_sync.model.config import DestinationConfig
from cdc_sync.vendors.mailchimp.mapper import subscriber_hash
from cdc_sync.vendors.mailchimp.options import MailchimpOptions
from cdc_sync.vendors.plugin import Subject, SubjectApi, SubjectRights


def _member(config: DestinationConfig, subject: Subject) -> str | None:
    list_id = MailchimpOptions.of(config).list_id
    if not list_id:
        raise ConfigError("a mailchimp destination needs list_id")
    if not subject.email:
        return None  # no address, no member: Mailchimp knows people only by it
    return f"/3.0/lists/{list_id}/members/{subscriber_hash(subject.email)}"


async def export_member(api: SubjectApi, config: DestinationConfig, subject: Subject) -> Any:
    member = _member(config, subject)
    return None if member is None else await api.get(member, missing_ok=True)


async def erase_member(api: SubjectApi, config: DestinationConfig, subject: Subject) -> bool:
    """204 erased; 404 nothing there (never added, or erased by an earlier run)."""
    member = _member(config, subject)
    if member is None:
        return False
    return await api.send("POST", f"{member}/actions/delete-permanent", missing_ok=True) is not None


RIGHTS = SubjectRights(export=export_member, erase=erase_member)
