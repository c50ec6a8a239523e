"""The change events everything downstream of Kafka works with."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Op = Literal["c", "u", "d", "r"]
Row = dict[str, Any]
_SINGULAR = {"activities": "activity", "opportunities": "opportunity"}


def entity_name(table: str, key: Iterable[Any]) -> str:
    """An object as operators name it in logs, audit and queries: `contact:42`, `opportunity:7`."""
    name = table.rpartition(".")[2]
    return f"{_SINGULAR.get(name, name.removesuffix('s'))}:{','.join(str(value) for value in key)}"


class SourcePosition(BaseModel):
    """Where a change came from: its Kafka coordinates and its place in the database's log."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    lsn: int | None
    tx_id: int | None
    commit_ts: datetime
    snapshot: bool = False


class ChangeEvent(BaseModel):
    """One row change captured by Debezium, decoded from its Avro envelope.

    `table` is schema-qualified (`public.contacts`). `before` is the old row for updates and
    deletes (full rows: the CRM tables use REPLICA IDENTITY FULL), `after` the new one for
    creates, updates and snapshot reads.
    """

    model_config = ConfigDict(frozen=True)

    op: Op
    table: str
    key: Row
    before: Row | None
    after: Row | None
    source: SourcePosition
    schema_id: int

    @property
    def entity(self) -> str:
        """The changed object as operators name it: `contact:42`, `contact_tag:42,7`."""
        return entity_name(self.table, self.key.values())

    @property
    def row(self) -> Row:
        """The row as it stands after this change (the last image for a delete)."""
        image = self.after if self.after is not None else self.before
        return image or {}


def changed_fields(event: ChangeEvent) -> dict[str, tuple[Any, Any]]:
    """Fields whose value differs between the before and after images (empty unless an update)."""
    if event.before is None or event.after is None:
        return {}
    return {
        name: (event.before.get(name), value)
        for name, value in event.after.items()
        if event.before.get(name) != value
    }


def describe(event: ChangeEvent) -> str:
    """One line for people: what changed, where it sits in Kafka and in the database's log."""
    key = " ".join(f"{name}={value}" for name, value in event.key.items())
    src = event.source
    changes = "; ".join(f"{name}: {old} -> {new}" for name, (old, new) in changed_fields(event).items())
    return (
        f"{event.op} {event.table} {key} lsn={src.lsn} tx={src.tx_id} committed={src.commit_ts.isoformat()} "
        f"[{src.topic}/{src.partition}@{src.offset}]" + (f" {changes}" if changes else "")
    )
