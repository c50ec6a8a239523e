"""Fault injection: what a flaky vendor does to a request before, or instead of, serving it."""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from random import Random

from pydantic import BaseModel, ConfigDict, Field

Clock = Callable[[], float]
"""Seconds since the epoch, like `time.time`; injected so tests decide what "now" is."""


class Faults(BaseModel):
    """The faults in force; every field has the value of a well-behaved vendor by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=503, ge=400, le=599)
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    retry_after_s: int = Field(default=1, ge=0)
    reject_status: int | None = Field(default=None, ge=400, le=599)
    drop_connection_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class FaultKind(StrEnum):
    DROP = "drop"
    REJECT = "reject"
    RATE_LIMIT = "rate_limit"
    ERROR = "error"
    NONE = "none"


FAULT_DETAILS: dict[FaultKind, str] = {
    FaultKind.REJECT: "Rejected by the sandbox (reject_status fault).",
    FaultKind.RATE_LIMIT: "Too many requests: the sandbox rate limit is exceeded.",
    FaultKind.ERROR: "Injected failure (error_rate fault).",
}


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request; `status` and `retry_after_s` only for the answering faults."""

    kind: FaultKind
    status: int | None = None
    retry_after_s: int | None = None
    latency_s: float = 0.0


class ConnectionDropped(Exception):
    """Raised after the response has started so the server aborts the connection mid-response."""


def rate_window(rate_per_s: float) -> tuple[int, float]:
    """(requests admitted, rolling window in seconds) for a rate: one second, or longer for rates
    below one per second so that at least one request fits."""
    capacity = max(1, int(rate_per_s))
    return capacity, capacity / rate_per_s


class FaultInjector:
    """Decides, request by request, which fault (if any) hits it, in the documented order."""

    def __init__(self, startup: Faults, rng: Random, clock: Clock) -> None:
        self.startup = startup
        self.faults = startup
        self._rng = rng
        self._clock = clock
        self._admitted: deque[float] = deque()

    def restore(self) -> None:
        self.faults = self.startup
        self._admitted.clear()

    def decide(self) -> FaultDecision:
        for check in (self._drop, self._reject, self._rate_limit, self._error):
            decision = check(self.faults)
            if decision is not None:
                return decision
        return FaultDecision(FaultKind.NONE, latency_s=self.faults.latency_ms / 1000)

    def _chance(self, rate: float) -> bool:
        # Draw only when the fault is on, so switching one fault on does not shift another's sequence.
        return rate > 0 and self._rng.random() < rate

    def _drop(self, faults: Faults) -> FaultDecision | None:
        return FaultDecision(FaultKind.DROP) if self._chance(faults.drop_connection_rate) else None

    def _reject(self, faults: Faults) -> FaultDecision | None:
        if faults.reject_status is None:
            return None
        return FaultDecision(FaultKind.REJECT, status=faults.reject_status)

    def _rate_limit(self, faults: Faults) -> FaultDecision | None:
        if faults.rate_limit_per_s is None:
            return None
        capacity, window_s = rate_window(faults.rate_limit_per_s)
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - window_s:
            self._admitted.popleft()
        if len(self._admitted) >= capacity:
            return FaultDecision(FaultKind.RATE_LIMIT, status=429, retry_after_s=faults.retry_after_s)
        self._admitted.append(now)
        return None

    def _error(self, faults: Faults) -> FaultDecision | None:
        if not self._chance(faults.error_rate):
            return None
        retry_after = faults.retry_after_s if faults.error_status == 429 else None
        return FaultDecision(FaultKind.ERROR, status=faults.error_status, retry_after_s=retry_after)
