"""Which offset may be committed: only past events whose effects are all durable.

Events of one partition finish out of order (different entity keys run concurrently), so the
committable offset is the first one still unfinished — never beyond undone work.
"""

from collections import deque


class PartitionProgress:
    """Offsets in flight for one partition, in the order they were read."""

    def __init__(self) -> None:
        self._in_flight: deque[list[int | bool]] = deque()
        self._index: dict[int, list[int | bool]] = {}
        self.committable: int | None = None

    def begin(self, offset: int) -> None:
        entry: list[int | bool] = [offset, False]
        self._in_flight.append(entry)
        self._index[offset] = entry

    def finish(self, offset: int) -> int | None:
        """Mark done; returns the new committable offset if it moved, else None."""
        entry = self._index.pop(offset, None)
        if entry is None:
            return None
        entry[1] = True
        moved = False
        while self._in_flight and self._in_flight[0][1]:
            self.committable = int(self._in_flight.popleft()[0]) + 1
            moved = True
        return self.committable if moved else None

    @property
    def pending(self) -> int:
        return len(self._in_flight)
