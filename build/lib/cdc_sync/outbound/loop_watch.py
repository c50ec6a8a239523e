"""Event loop stalls, measured and bounded.

Every delivery, ledger flush and offset hand-over of `cdc-sync run` waits while the event loop
is held, so a held loop is latency for all of them. `LoopWatch` measures it: a timer that should
fire every `tick_s` fires late by as long as the loop was held (less at most `tick_s`).
`TimeSlice` keeps long CPU work (decoding and planning a poll's batch) from holding it, and
`settle_process` takes away two causes outside the code: full garbage collections and the GIL.
"""

import asyncio
import gc
import sys
import time

from cdc_sync.observability import metrics

TICK_S = 0.001
SLICE_S = 0.002
# How long a worker thread running Python (a ledger flush, a lookup) may keep the GIL from the
# loop before it must hand over: Python's default of 5 ms showed as 5-15 ms loop stalls.
GIL_SWITCH_S = 0.001
_YIELD_S = 1e-6


def settle_process() -> None:
    """Once at start-up, after the imports and reference data: what else would hold the loop.

    A full garbage collection walks every object the process has, modules and reference data
    included (about 125,000 objects, 100 ms here); frozen, it walks only those made since. A
    worker thread running Python holds the GIL from the loop for up to the switch interval.
    """
    sys.setswitchinterval(GIL_SWITCH_S)
    gc.collect()
    gc.freeze()


class LoopWatch:
    """Records how late each tick runs in `cdc_sync_event_loop_stall_seconds` and the longest.

    The tick is a bare timer callback rescheduling itself, not a sleeping task: at a thousand
    ticks a second, a task's future and wake-up would cost a third more CPU for the same figure.
    Lateness is read from `perf_counter`: uvloop's own clock counts whole milliseconds.
    """

    def __init__(self, tick_s: float = TICK_S) -> None:
        self.tick_s = tick_s
        self.longest_s = 0.0
        self._due = 0.0
        self._next: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Ticks until cancelled."""
        loop = asyncio.get_running_loop()
        self._schedule(loop)
        try:
            await loop.create_future()  # never resolved: the ticks run as callbacks
        finally:
            if self._next is not None:
                self._next.cancel()

    def record(self, stall_s: float) -> None:
        metrics.LOOP_STALL.observe(stall_s)
        if stall_s > self.longest_s:
            self.longest_s = stall_s
            metrics.LOOP_LONGEST_STALL.set(stall_s)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = time.perf_counter() + self.tick_s
        self._next = loop.call_later(self.tick_s, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        # A loop may run a timer a little early (its clock's resolution): that is no stall.
        self.record(max(0.0, time.perf_counter() - self._due))
        self._schedule(loop)


class TimeSlice:
    """Gives the other tasks a turn once CPU work has held the loop for `slice_s`.

    Awaiting `turn()` between the steps of a long loop keeps the steps in order (they still run
    one after another in the same task) while timers, vendor responses and acks get through.
    """

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self._started = time.perf_counter()

    async def turn(self) -> None:
        if time.perf_counter() - self._started >= self.slice_s:
            # Not sleep(0): a task whose timer fell due or whose socket became readable during the
            # slice is woken by a callback queued behind a sleep(0) resumption, and would wait for
            # the next slice. A sleep with a delay resumes one callback later, behind it (asyncio
            # and uvloop alike).
            await asyncio.sleep(_YIELD_S)
            self._started = time.perf_counter()
