"""The limiter spaces requests evenly and delays instead of dropping."""

from cdc_sync.delivery.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_are_spaced_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, clock)
    waits = [limiter.wait_s() for _ in range(5)]
    assert all(abs(wait - 0.1 * index) < 1e-9 for index, wait in enumerate(waits))


def test_no_more_than_rate_plus_one_in_any_second() -> None:
    clock = Clock()
    limiter = RateLimiter(8.0, clock)
    starts = []
    for _ in range(100):
        starts.append(clock.now + limiter.wait_s())
        clock.now += 0.01
    for start in starts:
        in_window = [s for s in starts if start <= s < start + 1.0]
        assert len(in_window) <= 9


def test_idle_time_does_not_build_a_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(5.0, clock)
    limiter.wait_s()
    clock.now += 100.0
    assert limiter.wait_s() == 0.0
    assert limiter.wait_s() > 0.0
