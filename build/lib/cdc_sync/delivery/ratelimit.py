"""A token bucket per destination: waits for a token, never drops a request."""

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    """At most `rate_per_s` acquisitions per second, evenly spaced."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate_per_s
        # No bursts: a vendor that counts per rolling second must never see more than the rate.
        self._capacity = 1.0
        self._tokens = 1.0
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def wait_s(self) -> float:
        """Take a token now or say how long until one is free (the token is then reserved)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def acquire(self) -> float:
        """Wait for a token; returns the seconds waited (for the rate-limit metric)."""
        async with self._lock:
            delay = self.wait_s()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay
