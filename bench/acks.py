"""What the vendors acknowledged (cdc-sync's delivery ledger) and what the sandboxes applied.

A phase's rows are those after the ledger's last id when it began whose Kafka position lies in
the phase's window, so other writers of the ledger do not count. Acknowledged means a distinct
idempotency key with outcome `ok` (or `superseded`: merged into a later change of its key).
Every key sent with a 2xx answer must show as one effect at the sandbox: `duplicated_keys` is 0
and the sandbox has at least as many keys as were sent. Preconditions are the exception: a
`member.ensure` (make the member exist before tagging it) changes nothing when the member is
there already, so it is counted as acknowledged but owes no effect.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.window import Window

PRECONDITIONS = ("member.ensure",)
FULL_EFFECTS_MAX = 200_000  # above it only the sandbox's summary (its full map is too large to fetch)


def _window_clause(window: Window) -> tuple[str, dict[str, Any]]:
    parts, params = [], {}
    for i, ((topic, partition), end) in enumerate(sorted(window.ends.items())):
        parts.append(
            f"(topic = :t{i} AND kafka_partition = :p{i} AND kafka_offset >= :s{i} AND kafka_offset < :e{i})"
        )
        params.update(
            {
                f"t{i}": topic,
                f"p{i}": partition,
                f"s{i}": window.starts.get((topic, partition), 0),
                f"e{i}": end,
            }
        )
    return "(" + (" OR ".join(parts) or "false") + ")", params


@dataclass(frozen=True)
class Acks:
    acked_keys: int
    sent_keys: int  # acknowledged with a 2xx answer: each must be one effect at the sandbox
    superseded_keys: int
    not_found_keys: int  # `not_found_ok` requests answered 404: acknowledged, no effect
    precondition_keys: int  # sent with a 2xx answer, but may have had nothing to do
    ok_keys: int
    ok_rows: int
    first_at: Any
    last_at: Any


_ACKS = """
SELECT destination,
       count(DISTINCT idempotency_key) AS acked_keys,
       count(DISTINCT idempotency_key) FILTER (WHERE outcome = 'ok' AND coalesce(status_code, 200) < 300)
           AS sent_keys,
       count(DISTINCT idempotency_key) FILTER (WHERE outcome = 'superseded') AS superseded_keys,
       count(DISTINCT idempotency_key) FILTER (WHERE outcome = 'ok' AND status_code >= 300) AS not_found_keys,
       count(DISTINCT idempotency_key) FILTER (WHERE outcome = 'ok' AND coalesce(status_code, 200) < 300
           AND operation = ANY(:preconditions)) AS precondition_keys,
       count(DISTINCT idempotency_key) FILTER (WHERE outcome = 'ok') AS ok_keys,
       count(*) FILTER (WHERE outcome = 'ok') AS ok_rows,
       min(at) AS first_at, max(at) AS last_at
FROM cdc_sync.deliveries
WHERE id > :first AND outcome IN ('ok', 'superseded') AND destination = ANY(:destinations) AND {window}
GROUP BY destination
"""


class Ledger:
    """The ledger rows of one phase: cheap progress while waiting, exact counts at the end."""

    def __init__(self, state: Engine, destinations: list[str], window: Window) -> None:
        self.state, self.destinations, self.window = state, destinations, window
        with state.connect() as conn:
            self.first = int(
                conn.execute(text("SELECT coalesce(max(id), 0) FROM cdc_sync.deliveries")).scalar_one()
            )
            self.first_letter = int(
                conn.execute(text("SELECT coalesce(max(id), 0) FROM cdc_sync.dead_letters")).scalar_one()
            )
        self._seen, self._rows = self.first, 0

    def ok_rows(self) -> int:
        """Acknowledged rows so far, read incrementally by id (a progress figure, not the verdict)."""
        clause, params = _window_clause(self.window)
        query = text(
            "SELECT count(*) FILTER (WHERE outcome IN ('ok', 'superseded')), coalesce(max(id), :seen) "
            f"FROM cdc_sync.deliveries WHERE id > :seen AND destination = ANY(:destinations) AND {clause}"
        )
        with self.state.connect() as conn:
            bound = {"seen": self._seen, "destinations": self.destinations, **params}
            rows, seen = conn.execute(query, bound).one()
        self._rows, self._seen = self._rows + int(rows), int(seen)
        return self._rows

    def acks(self) -> dict[str, Acks]:
        clause, params = _window_clause(self.window)
        query = text(_ACKS.format(window=clause))
        with self.state.connect() as conn:
            bound = {
                "first": self.first,
                "destinations": self.destinations,
                "preconditions": list(PRECONDITIONS),
            }
            rows = conn.execute(query, {**bound, **params}).mappings()
            found = {
                row["destination"]: Acks(**{k: v for k, v in row.items() if k != "destination"})
                for row in rows
            }
        return {name: found.get(name, Acks(0, 0, 0, 0, 0, 0, 0, None, None)) for name in self.destinations}

    def failed_attempts(self) -> int:
        clause, params = _window_clause(self.window)
        query = text(
            "SELECT count(*) FROM cdc_sync.deliveries "
            "WHERE id > :first AND outcome NOT IN ('ok', 'superseded') "
            f"AND destination = ANY(:destinations) AND {clause}"
        )
        with self.state.connect() as conn:
            return int(
                conn.execute(
                    query, {"first": self.first, "destinations": self.destinations, **params}
                ).scalar_one()
            )

    def dead_letters(self) -> dict[str, Any]:
        query = text(
            "SELECT left(reason, 160) AS reason, count(*) AS n FROM cdc_sync.dead_letters WHERE id > :first "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        with self.state.connect() as conn:
            rows = conn.execute(query, {"first": self.first_letter}).all()
        return {"count": sum(int(n) for _, n in rows), "reasons": {str(r): int(n) for r, n in rows[:5]}}

    def sent_keys(self, destination: str) -> dict[str, str]:
        """Key → operation of every delivery acknowledged with a 2xx answer."""
        clause, params = _window_clause(self.window)
        query = text(
            "SELECT DISTINCT idempotency_key, operation FROM cdc_sync.deliveries WHERE id > :first "
            "AND outcome = 'ok' AND coalesce(status_code, 200) < 300 AND destination = :destination "
            f"AND {clause}"
        )
        with self.state.connect() as conn:
            rows = conn.execute(query, {"first": self.first, "destination": destination, **params}).all()
        return {key: operation for key, operation in rows}

    def latency_rows(self) -> list[Any]:
        """Per acknowledged key its first ack: position, commit → ack in ms, ack time in epoch ms."""
        clause, params = _window_clause(self.window)
        query = text(
            "SELECT DISTINCT ON (destination, idempotency_key) topic, kafka_partition, kafka_offset, "
            "extract(epoch FROM at - commit_ts) * 1000 AS end_to_end_ms, "
            "extract(epoch FROM at) * 1000 AS at_ms FROM cdc_sync.deliveries "
            "WHERE id > :first AND outcome = 'ok' AND destination = ANY(:destinations) "
            f"AND {clause} ORDER BY destination, idempotency_key, at"
        )
        with self.state.connect() as conn:
            return list(
                conn.execute(query, {"first": self.first, "destinations": self.destinations, **params}).all()
            )


def sandbox_effects(base_url: str, full: bool) -> dict[str, Any]:
    """The sandbox's effect summary; `full` (or a sandbox without summaries) adds the set of keys."""
    params = {} if full else {"summary": "true"}
    summary = httpx.get(f"{base_url}/_sandbox/effects", params=params, timeout=300).json()
    if "keys" in summary:
        return dict(summary)
    counts: dict[str, int] = summary.get("effects", {})
    duplicated = [key for key, n in counts.items() if n > 1]
    return {
        "total": summary.get("total", sum(counts.values())),
        "keys": len(counts),
        "duplicated_keys": len(duplicated),
        "sample_duplicates": duplicated[:5],
        "key_set": set(counts),
    }


def verdict(ledger: Ledger, destination: str, acks: Acks, expected: int, base_url: str) -> dict[str, Any]:
    """One destination's figures and whether each change took effect exactly once."""
    effects = sandbox_effects(base_url, full=acks.sent_keys <= FULL_EFFECTS_MAX)
    key_set: set[str] | None = effects.pop("key_set", None)
    missing = _without_effect(ledger.sent_keys(destination), key_set) if key_set is not None else None
    owed_effects = acks.sent_keys - acks.precondition_keys
    return {
        "expected_acks": expected,
        "acked_keys": acks.acked_keys,
        "sent_keys": acks.sent_keys,
        "superseded_keys": acks.superseded_keys,
        "not_found_keys": acks.not_found_keys,
        "precondition_keys": acks.precondition_keys,
        "acked_more_than_once": acks.ok_rows - acks.ok_keys,
        "effects": effects,
        "sent_without_effect": missing,
        "exactly_once": acks.acked_keys >= expected
        and effects["duplicated_keys"] == 0
        and effects["keys"] >= owed_effects
        and not {op: n for op, n in (missing or {}).items() if op not in PRECONDITIONS},
    }


def _without_effect(sent: dict[str, str], effects: set[str]) -> dict[str, int]:
    """Per operation, how many keys acknowledged with a 2xx answer the sandbox never applied."""
    return dict(Counter(operation for key, operation in sent.items() if key not in effects))
