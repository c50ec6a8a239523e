"""Echo suppression: a change the inbound writer made on a vendor's behalf is not sent back to it.

The writer runs `SET LOCAL cdc_sync.origin = '<system>'`; a trigger copies that into the row's
`sync_origin` column, which Debezium carries into the change stream with the row.
"""

from cdc_sync.events import ChangeEvent

ORIGIN_COLUMN = "sync_origin"


def is_echo(event: ChangeEvent, system: str) -> bool:
    return event.row.get(ORIGIN_COLUMN) == system
