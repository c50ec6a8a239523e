"""Per-entity order for batches of inbox events: pure, no database.

Events of one entity (a ticket, an order, an email address) apply one at a time in receipt order.
A batch may hold several entities' events; an event may apply only when no older event of its
entity is still waiting, whether another writer holds that one or it was left pending here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class EntityGate:
    """Which entities are held, and from which inbox id on (events before that id are not affected)."""

    held_from: dict[str, int] = field(default_factory=dict)

    @classmethod
    def over(cls, waiting_elsewhere: Iterable[tuple[int, str]]) -> "EntityGate":
        """A gate closed for each entity with an older event outside this batch, from that event on."""
        gate = cls()
        for inbox_id, entity in waiting_elsewhere:
            gate.hold(inbox_id, entity)
        return gate

    def admits(self, inbox_id: int, entity: str) -> bool:
        return inbox_id < self.held_from.get(entity, inbox_id + 1)

    def hold(self, inbox_id: int, entity: str) -> None:
        """This event stays pending: no later event of its entity may overtake it."""
        self.held_from[entity] = min(inbox_id, self.held_from.get(entity, inbox_id))
