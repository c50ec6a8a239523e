"""Destination state (active / paused, the rollout share) and the held queue of a paused destination.

Holding and resuming serialize on the destination's state row (SELECT ... FOR UPDATE), so
a delivery is either held before `resume` empties the queue, or sent after it: order holds.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Delivery
from cdc_sync.store.tables import destination_state, held_deliveries

State = Literal["active", "paused"]
FOLLOW_S = 1.0  # how often a running `run` re-reads states and shares (pause, resume, rollout)


@dataclass(frozen=True)
class DestinationStatus:
    name: str
    state: State
    changed_at: datetime | None
    reason: str | None
    held: int


def _lock_state(conn: Connection, name: str) -> State:
    conn.execute(pg_insert(destination_state).values(name=name, state="active").on_conflict_do_nothing())
    row = conn.execute(
        select(destination_state.c.state).where(destination_state.c.name == name).with_for_update()
    )
    return "paused" if row.scalar_one() == "paused" else "active"


def set_state(engine: Engine, name: str, state: State, reason: str, incident_id: int | None = None) -> State:
    """Change a destination's state; returns the state it had before."""
    with engine.begin() as conn:
        before = _lock_state(conn, name)
        conn.execute(
            update(destination_state)
            .where(destination_state.c.name == name)
            .values(state=state, reason=reason, incident_id=incident_id, changed_at=func.now())
        )
    return before


def states(engine: Engine) -> dict[str, State]:
    return controls(engine, {}).states


def set_rollout(engine: Engine, name: str, share: float) -> None:
    """Set a destination's rollout share (it then wins over the file's)."""
    with engine.begin() as conn:
        _lock_state(conn, name)
        conn.execute(update(destination_state).where(destination_state.c.name == name).values(rollout=share))


@dataclass(frozen=True)
class Controls:
    """What operators set that a running `run` follows: states and rollout shares."""

    states: dict[str, State]
    shares: dict[str, float]


def controls(engine: Engine, configs: Mapping[str, DestinationConfig]) -> Controls:
    """States and the share in force of each destination (the one `destinations rollout` set,
    else the file's), in one read of the state table."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(destination_state.c.name, destination_state.c.state, destination_state.c.rollout)
        ).all()
    overrides = {name: float(share) for name, _, share in rows if share is not None}
    return Controls(
        {name: "paused" if state == "paused" else "active" for name, state, _ in rows},
        {name: overrides.get(name, config.rollout) for name, config in configs.items()},
    )


def rollout_shares(engine: Engine, configs: Mapping[str, DestinationConfig]) -> dict[str, float]:
    return controls(engine, configs).shares


def hold(engine: Engine, delivery: Delivery, reason: str) -> bool:
    """Append to the held queue if the destination is still paused; False if it is active."""
    with engine.begin() as conn:
        if _lock_state(conn, delivery.destination) == "active":
            return False
        conn.execute(
            insert(held_deliveries).values(
                destination=delivery.destination,
                entity=delivery.entity,
                idempotency_key=delivery.idempotency_key,
                delivery=delivery.model_dump(mode="json"),
                reason=reason,
            )
        )
    return True


def held(engine: Engine, name: str, limit: int = 500) -> list[tuple[int, Delivery]]:
    statement = (
        select(held_deliveries.c.seq, held_deliveries.c.delivery)
        .where(held_deliveries.c.destination == name)
        .order_by(held_deliveries.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(seq, Delivery.model_validate(body)) for seq, body in conn.execute(statement)]


def release(engine: Engine, seqs: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(held_deliveries).where(held_deliveries.c.seq.in_(seqs)))


def activate_if_empty(engine: Engine, name: str, reason: str) -> bool:
    """Flip to active only when nothing is held any more (under the state lock)."""
    with engine.begin() as conn:
        _lock_state(conn, name)
        count = conn.execute(
            select(func.count()).select_from(held_deliveries).where(held_deliveries.c.destination == name)
        ).scalar_one()
        if count:
            return False
        conn.execute(
            update(destination_state)
            .where(destination_state.c.name == name)
            .values(state="active", reason=reason, incident_id=None, changed_at=func.now())
        )
    return True


def statuses(engine: Engine, names: list[str]) -> list[DestinationStatus]:
    counts = (
        select(held_deliveries.c.destination, func.count().label("held"))
        .group_by(held_deliveries.c.destination)
        .subquery()
    )
    statement = select(destination_state, counts.c.held).outerjoin(
        counts, counts.c.destination == destination_state.c.name
    )
    with engine.connect() as conn:
        found: dict[str, Any] = {row.name: row for row in conn.execute(statement)}
    return [_status(name, found.get(name)) for name in names]


def _status(name: str, row: Any) -> DestinationStatus:
    if row is None:
        return DestinationStatus(name, "active", None, None, 0)
    state: State = "paused" if row.state == "paused" else "active"
    return DestinationStatus(name, state, row.changed_at, row.reason, int(row.held or 0))
