"""A data subject in the helpdesk: their users (the ids cdc-sync learnt, and any user with the
contact's id as `external_id`), deleted and then deleted permanently."""

from typing import Any

from cdc_sync.model.config import DestinationConfig
from cdc_sync.vendors.plugin import Subject, SubjectApi, SubjectRights


async def _user_ids(api: SubjectApi, subject: Subject) -> list[str]:
    found = await api.get("/api/v2/users/search", {"external_id": str(subject.contact_id)}) or {}
    searched = [str(user["id"]) for user in found.get("users") or [] if "id" in user]
    return sorted({*subject.refs, *searched}, key=lambda ref: (len(ref), ref))


async def export_users(api: SubjectApi, config: DestinationConfig, subject: Subject) -> Any:
    users = []
    for user_id in await _user_ids(api, subject):
        shown = await api.get(f"/api/v2/users/{user_id}", missing_ok=True)
        if shown is None:  # deleted, not yet permanently: still held
            shown = await api.get(f"/api/v2/deleted_users/{user_id}", missing_ok=True)
        if shown is not None:
            users.append(shown)
    return users or None


async def erase_users(api: SubjectApi, config: DestinationConfig, subject: Subject) -> bool:
    """Each user deleted, then deleted permanently; a 404 at either step is a user an earlier
    (interrupted) run already got that far with."""
    erased = False
    for user_id in await _user_ids(api, subject):
        await api.send("DELETE", f"/api/v2/users/{user_id}", missing_ok=True)
        gone = await api.send("DELETE", f"/api/v2/deleted_users/{user_id}", missing_ok=True)
        erased = erased or gone is not None
    return erased


RIGHTS = SubjectRights(export=export_users, erase=erase_users)
