"""Pushing one CRM segment to Mailchimp (vendor I/O): its static segment found by name or created
on first use, the members it has read back, the difference sent in calls of ≤ 500 adds and
removes, and the member count read back for the check. Re-running is safe: it pushes only what
still differs (the way to resume one that stopped)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cdc_sync.repair.readers import VendorApi, VendorUnreadable
from cdc_sync.vendors.mailchimp.reader import offset_pages
from cdc_sync.vendors.mailchimp.segment_store import CrmSegment
from cdc_sync.vendors.mailchimp.segments import MemberChanges, counts_agree, vendor_name

Progress = Callable[[int], None]


async def segment_id_of(
    api: VendorApi, list_id: str, segment: CrmSegment, link: Callable[[str], Awaitable[None]]
) -> str:
    """The platform's id of the segment: the one the CRM keeps (if the platform still has it under
    that name), the one of that name (a push that stopped before it kept the id), or a new one;
    `link` keeps it in the CRM at once."""
    name, found = vendor_name(segment.name), None
    if segment.external_id:
        kept = await api.get(f"/3.0/lists/{list_id}/segments/{segment.external_id}", missing_ok=True)
        if kept is not None and kept.get("name") == name:
            return segment.external_id
    async for existing in _each(api, f"/3.0/lists/{list_id}/segments", "segments", {"type": "static"}):
        if existing.get("name") == name:
            found = str(existing["id"])
            break
    if found is None:
        created = await api.send(
            "POST", f"/3.0/lists/{list_id}/segments", {"name": name, "static_segment": []}
        )
        found = str((created or {}).get("id") or "")
        if not found:
            raise VendorUnreadable(f"{api.name}: creating segment {name!r} answered no id")
    await link(found)
    return found


async def push_segment(
    api: VendorApi, list_id: str, segment_id: str, emails: set[str], tolerance: float, progress: Progress
) -> dict[str, Any]:
    """Make the platform's segment hold exactly `emails`; what was done, and the count check."""
    path = f"/3.0/lists/{list_id}/segments/{segment_id}"
    present = [m["email_address"] async for m in _each(api, f"{path}/members", "members")]
    changes = MemberChanges.between(emails, present)
    added = removed = 0
    errors: list[dict[str, Any]] = []
    for body in changes.calls():
        answer = await api.send("POST", path, body) or {}
        added, removed = (
            added + int(answer.get("total_added") or 0),
            removed + int(answer.get("total_removed") or 0),
        )
        errors += answer.get("errors") or []
        progress(len(body["members_to_add"]) + len(body["members_to_remove"]))
    vendor_count = int((await api.get(path) or {}).get("member_count") or 0)
    return {
        "segment_id": segment_id,
        "added": added,
        "removed": removed,
        "refused": sum(len(e.get("email_addresses") or [e.get("email_address")]) for e in errors),
        "errors": errors[:20],
        "crm_count": len(emails),
        "vendor_count": vendor_count,
        "tolerance": tolerance,
        "counts_agree": counts_agree(len(emails), vendor_count, tolerance),
    }


async def _each(
    api: VendorApi, path: str, items: str, params: dict[str, Any] | None = None
) -> AsyncIterator[dict[str, Any]]:
    async for page, _ in offset_pages(api, path, items, params=params):
        for item in page:
            yield item
