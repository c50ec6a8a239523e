"""Which of a contact's opportunities a vendor record links to: the open one most recently updated."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CLOSED_STAGES = frozenset({"closed_won", "closed_lost", "won", "lost", "closed"})


@dataclass(frozen=True)
class Opportunity:
    id: int
    stage: str
    updated_at: datetime


def open_opportunity(opportunities: Sequence[Opportunity]) -> int | None:
    """The contact's most recently updated open opportunity, if it has one."""
    open_ones = [o for o in opportunities if o.stage.lower() not in CLOSED_STAGES]
    return max(open_ones, key=lambda o: (o.updated_at, o.id)).id if open_ones else None


def open_opportunity_in(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """`open_opportunity` over CRM rows of `opportunities`."""
    return open_opportunity([Opportunity(int(r["id"]), str(r["stage"]), r["updated_at"]) for r in rows])
