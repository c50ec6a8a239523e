"""The response classification table and the retry timing."""

from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.delivery.policy import backoff_s, classify, retry_after_s
from cdc_sync.model.delivery import Action, Outcome, VendorRequest

PUT = VendorRequest(method="PUT", path="/x")
THRESHOLD = 3.0


def status(code: int, latency: float = 0.1) -> Outcome:
    return Outcome(code, latency)


def test_table() -> None:
    assert classify(status(200), PUT, THRESHOLD) is Action.OK
    assert classify(status(204), PUT, THRESHOLD) is Action.OK
    assert classify(status(429), PUT, THRESHOLD) is Action.RETRY_AFTER
    assert classify(status(503), PUT, THRESHOLD) is Action.RETRY
    assert classify(status(408), PUT, THRESHOLD) is Action.RETRY
    assert classify(status(400), PUT, THRESHOLD) is Action.DEAD_LETTER
    assert classify(status(404), PUT, THRESHOLD) is Action.DEAD_LETTER
    assert (
        classify(status(404), VendorRequest(method="POST", path="/t", not_found_ok=True), THRESHOLD)
        is Action.OK
    )
    assert classify(Outcome(None, 30.0, failure="timeout"), PUT, THRESHOLD) is Action.RETRY
    assert classify(Outcome(None, 0.01, failure="network"), PUT, THRESHOLD) is Action.RETRY


def test_a_slow_success_is_compensated_as_a_timeout() -> None:
    assert classify(status(200, latency=10.0), PUT, THRESHOLD) is Action.RETRY


@given(st.integers(min_value=100, max_value=599), st.floats(min_value=0, max_value=2.9))
def test_every_status_gets_exactly_the_documented_action(code: int, latency: float) -> None:
    action = classify(status(code, latency), PUT, THRESHOLD)
    expected = {2: Action.OK, 5: Action.RETRY}.get(code // 100, Action.DEAD_LETTER)
    expected = {408: Action.RETRY, 425: Action.RETRY, 429: Action.RETRY_AFTER}.get(code, expected)
    expected = {401: Action.PAUSE, 403: Action.PAUSE}.get(code, expected)
    assert action is expected


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=0.999))
def test_backoff_grows_and_is_capped(failures: int, jitter: float) -> None:
    delay = backoff_s(failures, base_s=0.5, cap_s=30.0, jitter=jitter)
    ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
    assert ceiling / 2 <= delay <= ceiling


def test_retry_after_is_honoured() -> None:
    assert retry_after_s(Outcome(429, 0.1, retry_after_s=7.0), cap_s=300) == 7.0
    assert retry_after_s(Outcome(429, 0.1), cap_s=300) == 1.0
    assert retry_after_s(Outcome(429, 0.1, retry_after_s=86_400.0), cap_s=300) == 300
    assert retry_after_s(Outcome(429, 0.1, retry_after_s=float("inf")), cap_s=300) == 300
    assert retry_after_s(Outcome(429, 0.1, retry_after_s=float("nan")), cap_s=300) == 300
