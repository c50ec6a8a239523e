"""Any captured table as a signed JSON event (the generic webhook destination)."""

from cdc_sync.mapping.normalize import json_safe, to_utc_iso
from cdc_sync.mapping.routes import MapInput, Mapped
from cdc_sync.model.delivery import BatchForm, VendorRequest

_OPERATIONS = {"c": "created", "u": "updated", "d": "deleted", "r": "snapshot"}


def change(item: MapInput) -> Mapped:
    event = item.event
    table = event.table.rpartition(".")[2]
    key = ",".join(str(value) for value in event.key.values())
    body = {
        "type": f"{table}.{_OPERATIONS[event.op]}",
        "occurred_at": to_utc_iso(event.source.commit_ts),
        "key": json_safe(event.key),
        "data": json_safe(item.image),
    }
    # In a batch (only when the receiver opts in) the same event is one item of `events`.
    request = VendorRequest(
        method="POST", path=item.config.path, body=body, batch=BatchForm(group="events", item=body)
    )
    return Mapped((item.delivery(f"{table}:{key}", "event", request),))
