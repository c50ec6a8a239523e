"""CRM dial tasks → the call center's dial batches (`POST /v1/dial-batches`, idempotent by
batch_id + task_id). Only a task waiting to be dialled is sent: the CRM marks a task for a
number on its do-not-call list `blocked` when it is created, and results come back by webhook."""

from cdc_sync.mapping.routes import NOTHING, MapInput, Mapped, TableMapper
from cdc_sync.model.delivery import BatchForm, VendorRequest

DIAL_BATCHES = "/v1/dial-batches"
DIALLABLE = "pending"


def dial_tasks(item: MapInput) -> Mapped:
    row = item.after
    if item.event.op not in ("c", "r") or row is None or row.get("status") != DIALLABLE:
        return NOTHING  # updates are the call center's results coming back, not new work
    task = {
        "task_id": str(row["task_id"]),
        "phone": str(row["target_phone_e164"]),
        "contact_ref": None if row.get("contact_id") is None else str(row["contact_id"]),
        "campaign_id": row.get("ext_campaign_id"),
    }
    batch_id = str(row["batch_id"])
    request = VendorRequest(
        method="POST",
        path=DIAL_BATCHES,
        body={"batch_id": batch_id, "tasks": [task]},
        batch=BatchForm(group=batch_id, item=task),  # the tasks of one batch share a call
    )
    return Mapped((item.delivery(f"dial_task:{row['task_id']}", "dial.enqueue", request),))


MAPPERS: dict[str, TableMapper] = {"public.dial_tasks": dial_tasks}
