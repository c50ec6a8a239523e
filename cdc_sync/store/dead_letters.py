"""Dead letters: events or deliveries that cannot go through as they are, with the reason."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select

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


def list_dead_letters(
    engine: Engine, destination: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    statement = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if destination:
        statement = statement.where(dead_letters.c.destination == destination)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement)]
