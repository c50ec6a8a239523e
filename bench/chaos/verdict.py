"""What a chaos scenario found, as counts: the pure comparison of what was owed with what arrived.

Outbound, per destination: every change owes acknowledgements (bench.load.ACKS); an owed one
with no acknowledged idempotency key in the ledger is lost, and so is a key acknowledged with a
2xx answer that the sandbox never applied. A key the sandbox applied more than once is a
duplicated effect. Inbound: every webhook the sender was answered 200 for must be in the inbox
once and finished, and each engagement event must be one CRM activity.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.acks import PRECONDITIONS


@dataclass(frozen=True)
class Counts:
    owed: int
    delivered: int
    lost: int
    duplicated: int


def destination_counts(owed: int, verdict: Mapping[str, Any]) -> Counts:
    """One destination's counts from bench.acks.verdict's figures."""
    acked = int(verdict["acked_keys"])
    missing = verdict.get("sent_without_effect") or {}
    unapplied = sum(n for operation, n in missing.items() if operation not in PRECONDITIONS)
    duplicated = int(verdict["effects"]["duplicated_keys"])
    return Counts(owed, min(acked, owed), max(owed - acked, 0) + unapplied, duplicated)


def outbound_counts(owed: Mapping[str, int], verdicts: Mapping[str, Mapping[str, Any]]) -> Counts:
    parts = [destination_counts(owed.get(name, 0), verdict) for name, verdict in verdicts.items()]
    return _sum(parts)


def inbound_counts(
    sent: Iterable[tuple[str, str]],
    finished: Mapping[tuple[str, str], int],
    activities: Mapping[tuple[str, str], int],
) -> Counts:
    """`finished`: inbox rows per (source, event id) no longer pending; `activities`: CRM
    activities per engagement event among those sent (one owed each; absent ones count as 0)."""
    keys = set(sent)
    lost = {key for key in keys if finished.get(key, 0) == 0} | {k for k, n in activities.items() if n == 0}
    twice = {key for key in keys if finished.get(key, 0) > 1} | {k for k, n in activities.items() if n > 1}
    return Counts(len(keys), len(keys - lost), len(lost), len(twice))


def _sum(parts: list[Counts]) -> Counts:
    return Counts(
        *(sum(getattr(p, name) for p in parts) for name in ("owed", "delivered", "lost", "duplicated"))
    )


@dataclass
class Outcome:
    """One scenario's row in the table."""

    scenario: str
    changes: int = 0
    counts: Counts = Counts(0, 0, 0, 0)
    dead_letters: dict[str, int] = field(default_factory=dict)
    recover_s: float | None = None  # None: did not recover by itself
    needs_human: str = ""  # what an operator had to do, if anything
    expect_human: bool = False  # slot loss: an alert and the runbook are the pass
    alert_s: float | None = None  # seconds to an alert, where the scenario asks for one
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def passed(self) -> bool:
        if self.error:
            return False
        if self.expect_human:
            return self.alert_s is not None and self.alert_s <= 30
        clean = self.counts.lost == 0 and self.counts.duplicated == 0
        return clean and self.recover_s is not None and not self.needs_human
