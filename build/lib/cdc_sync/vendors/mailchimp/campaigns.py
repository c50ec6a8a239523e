"""Sends from a CRM segment (vendor I/O): a regular campaign targeted at the segment's saved
Mailchimp segment, sent, and its status read back (`save`, `sending`, `sent`, …)."""

from typing import Any

from cdc_sync.repair.readers import VendorApi, VendorUnreadable


async def send_campaign(
    api: VendorApi, list_id: str, segment_id: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Create the campaign, send it, and answer its status as the platform reports it then."""
    order = {
        "type": "regular",
        "recipients": {"list_id": list_id, "segment_opts": {"saved_segment_id": int(segment_id)}},
        "settings": settings,
    }
    created = await api.send("POST", "/3.0/campaigns", order) or {}
    campaign_id = str(created.get("id") or "")
    if not campaign_id:
        raise VendorUnreadable(f"{api.name}: creating the campaign answered no id")
    await api.send("POST", f"/3.0/campaigns/{campaign_id}/actions/send")
    return await campaign_status(api, campaign_id)


async def campaign_status(api: VendorApi, campaign_id: str) -> dict[str, Any]:
    campaign = await api.get(f"/3.0/campaigns/{campaign_id}") or {}
    recipients = campaign.get("recipients") or {}
    return {
        "id": campaign_id,
        "status": campaign.get("status"),
        "emails_sent": campaign.get("emails_sent"),
        "recipient_count": recipients.get("recipient_count"),
        "segment_id": (recipients.get("segment_opts") or {}).get("saved_segment_id"),
        "send_time": campaign.get("send_time") or None,
    }
