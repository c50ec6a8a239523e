"""Response classification and retry timing: pure, one table."""

import math

from cdc_sync.model.delivery import Action, Outcome, VendorRequest

# Exact statuses first, then the status class (first digit).
STATUS_ACTIONS: dict[int, Action] = {
    401: Action.PAUSE,
    403: Action.PAUSE,
    408: Action.RETRY,
    425: Action.RETRY,
    429: Action.RETRY_AFTER,
}
CLASS_ACTIONS: dict[int, Action] = {
    2: Action.OK,
    3: Action.DEAD_LETTER,
    4: Action.DEAD_LETTER,
    5: Action.RETRY,
}


def classify(outcome: Outcome, request: VendorRequest, latency_threshold_s: float) -> Action:
    """What to do next. A response slower than the threshold is compensated as a timeout."""
    if outcome.failure is not None or outcome.status is None:
        return Action.RETRY
    if outcome.latency_s > latency_threshold_s:
        return Action.RETRY
    if outcome.status == 404 and request.not_found_ok:
        return Action.OK
    return STATUS_ACTIONS.get(outcome.status) or CLASS_ACTIONS.get(outcome.status // 100, Action.DEAD_LETTER)


def backoff_s(failures: int, base_s: float, cap_s: float, jitter: float) -> float:
    """Exponential backoff with full jitter; `jitter` is a uniform draw in [0, 1)."""
    ceiling = min(cap_s, base_s * 2.0 ** max(failures - 1, 0))
    return ceiling * (0.5 + jitter / 2)


def retry_after_s(outcome: Outcome, cap_s: float, default_s: float = 1.0) -> float:
    """How long the vendor asked us to wait, at most `cap_s` (an endless "inf" must not hang)."""
    asked = outcome.retry_after_s if outcome.retry_after_s is not None else default_s
    return min(asked, cap_s) if math.isfinite(asked) else cap_s
