"""Dead letters: events or deliveries that cannot go through as they are, with the reason."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert

from cdc_sync.events import SourcePosition
from cdc_sync.store.ledger import position_columns
from cdc_sync.store.tables import dead_letters


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    source: SourcePosition | None
    table: str | None = None
    entity: str | None = None
    destination: str | None = None
    payload: Any = None
    response: Any = None
    idempotency_key: str | None = None


def add_dead_letter(engine: Engine, letter: DeadLetter) -> int:
    values = {
        "reason": letter.reason,
        "table_name": letter.table,
        "entity": letter.entity,
        "destination": letter.destination,
        "payload": letter.payload,
        "response": letter.response,
        "idempotency_key": letter.idempotency_key,
        **position_columns(letter.source),
    }
    with engine.begin() as conn:
        return int(
            conn.execute(insert(dead_letters).values(values).returning(dead_letters.c.id)).scalar_one()
        )
