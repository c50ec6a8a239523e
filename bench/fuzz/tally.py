"""What one fuzz input did, the invariants it must keep, and the per-target tally. Pure.

An `Observation` is a webhook request's answer (or a decoder call's outcome) plus what it left
in the inbox; `violations` says which invariants it broke. Findings are kept once per kind of
failure (`signature`), with the first input that showed it and how often it recurred.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Violation = Literal[
    "server_error",  # an answer >= 500 (a webhook), never expected from any input
    "crash",  # an exception nobody handled, or one outside the allowed family (the decoder)
    "write_from_invalid",  # a refused request (4xx) that still changed the inbox
    "unauthenticated_accepted",  # a 2xx for a request that was not validly signed
    "ack_without_row",  # "accepted" answered, but no inbox row appeared
]
Outcome = Literal["2xx", "4xx", "5xx", "crash"]
MAX_EXAMPLE_CHARS = 2000


@dataclass(frozen=True)
class Observation:
    """One input's result. `status` is the HTTP status (decoder: 200 decoded, 422 rejected);
    `rows_added` the inbox rows that appeared while it was handled; `error` the traceback or log
    line behind a crash or a 5xx."""

    status: int | None
    rows_added: int = 0
    authentic: bool = True
    accepted: bool = False  # the app answered {"status": "accepted"}: one new row is owed
    crashed: bool = False
    cause: str = ""  # one line naming the failure: the exception, or the log line behind a 5xx
    error: str = ""  # the whole traceback or log text


def outcome_of(observation: Observation) -> Outcome:
    if observation.status is None:
        return "crash"
    if observation.status >= 500:
        return "5xx"
    return "4xx" if observation.status >= 400 else "2xx"


def violations(observation: Observation) -> list[Violation]:
    found: list[Violation] = []
    status = observation.status
    if observation.crashed or status is None:
        found.append("crash")
    if status is not None and status >= 500:
        found.append("server_error")
    if status is not None and 400 <= status < 500 and observation.rows_added:
        found.append("write_from_invalid")
    if status is not None and status < 300 and not observation.authentic:
        found.append("unauthenticated_accepted")
    if observation.accepted and observation.rows_added != 1:
        found.append("ack_without_row")
    return found


_NUMBERS = re.compile(r"\d+")
_HEX = re.compile(r"\b[0-9a-f]{8,}\b")


def signature(violation: Violation, observation: Observation) -> str:
    """One key per kind of failure: the violation, the status and the cause, with numbers and hex
    blurred so that one bug is one finding however many inputs show it."""
    cause = _NUMBERS.sub("N", _HEX.sub("H", observation.cause))[:160]
    return f"{violation} status={observation.status} {cause}".strip()


@dataclass
class Finding:
    target: str
    violation: Violation
    signature: str
    example: dict[str, Any]
    cause: str
    error: str
    count: int = 1


@dataclass
class Tally:
    target: str
    inputs: int = 0
    rows_added: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    broken: Counter[Violation] = field(default_factory=Counter)
    findings: dict[str, Finding] = field(default_factory=dict)
    seconds: float = 0.0
    writes_checked: bool = True

    def add(self, observation: Observation, example: dict[str, Any]) -> list[Violation]:
        self.inputs += 1
        self.rows_added += observation.rows_added
        self.outcomes[outcome_of(observation)] += 1
        found = violations(observation)
        for violation in found:
            self.broken[violation] += 1
            self._keep(violation, observation, example)
        return found

    def _keep(self, violation: Violation, observation: Observation, example: dict[str, Any]) -> None:
        key = signature(violation, observation)
        if key in self.findings:
            self.findings[key].count += 1
            return
        error = observation.error[:MAX_EXAMPLE_CHARS]
        self.findings[key] = Finding(self.target, violation, key, example, observation.cause, error)

    @property
    def clean(self) -> bool:
        return not self.broken

    def summary(self) -> dict[str, Any]:
        rate = self.inputs / self.seconds if self.seconds else None
        return {
            "target": self.target,
            "inputs": self.inputs,
            "2xx": self.outcomes["2xx"],
            "4xx": self.outcomes["4xx"],
            "5xx": self.outcomes["5xx"],
            "crashes": self.broken["crash"],
            "writes_from_invalid": self.broken["write_from_invalid"] if self.writes_checked else None,
            "inbox_rows_added": self.rows_added if self.writes_checked else None,
            "unauthenticated_accepted": self.broken["unauthenticated_accepted"],
            "ack_without_row": self.broken["ack_without_row"],
            "seconds": round(self.seconds, 1),
            "inputs_per_s": round(rate, 1) if rate else None,
        }


COLUMNS = ("target", "inputs", "2xx", "4xx", "5xx", "crashes", "writes_from_invalid", "inputs_per_s")
HEADINGS = ("target", "inputs", "2xx", "4xx", "5xx", "crashes", "writes-from-invalid", "inputs/s")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {name: sum(row[name] or 0 for row in rows) for name in COLUMNS[1:-1]}
    if all(row["writes_from_invalid"] is None for row in rows):
        total["writes_from_invalid"] = None
    seconds = sum(row["seconds"] for row in rows)
    total.update(target="total", inputs_per_s=round(total["inputs"] / seconds, 1) if seconds else None)
    return total


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
    )


def table(rows: list[dict[str, Any]]) -> str:
    """The closing table: one line per target and their total."""
    body = [[_cell(row[name]) for name in COLUMNS] for row in [*rows, _total(rows)]]
    widths = [max(len(cells[i]) for cells in [list(HEADINGS), *body]) for i in range(len(COLUMNS))]
    rule = "  ".join("-" * w for w in widths)
    lines = [_line(list(HEADINGS), widths), rule, *(_line(cells, widths) for cells in body[:-1]), rule]
    return "\n".join([*lines, _line(body[-1], widths)])
