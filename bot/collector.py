"""Full garbage collections in quiet moments.

A full (generation 2) collection stops the whole process for as long as it takes to scan every object made
since start-up, and under a burst of requests that is tens of milliseconds with the requests of the burst
in memory: every request in flight waits it out. Python starts one when enough objects have survived
younger collections, which is exactly during a burst. So the process sets the third threshold out of reach
and runs full collections itself: once no request has arrived for QUIET_S and the work of the last
burst is done (its objects are gone by then, so there is less to scan). Once LONGEST_WITHOUT_S went by
without one, memory held by reference cycles must still be given back: then any short gap between requests
will do, work still running or not, and past twice that the collection runs under a load that never pauses.
Young collections (generations 0 and 1) stay automatic; they are short.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.ackfirst import AckFirst

log = logging.getLogger(__name__)

# Young collections every 700 allocations, a generation 1 collection every 10 of them (Python's defaults);
# the third threshold is never reached, so only `FullCollections` starts full ones.
THRESHOLDS = (700, 10, 1_000_000_000)
QUIET_S = 0.5
LONGEST_WITHOUT_S = 60.0
# An overdue collection takes a gap this long between requests (none waiting for its ack).
GAP_S = 0.05
CHECK_EVERY_S = 0.05


@dataclass(frozen=True)
class Quiet:
    """What decides a full collection: seconds since the last request arrived and since the last full one,
    requests waiting for their ack, and collections of generation 1 since the last full one."""

    since_request: float
    since_full: float
    waiting: int
    promoted: int
    working: int = 0  # listeners still at work after their ack (a burst's work runs after its acks)

    def due(self) -> bool:
        if self.promoted == 0:
            return False  # nothing reached the old generation: a full collection would find nothing new
        if self.since_full >= 2 * LONGEST_WITHOUT_S:
            return True
        if self.waiting:
            return False
        if self.since_full >= LONGEST_WITHOUT_S:
            return self.since_request >= GAP_S
        return self.working == 0 and self.since_request >= QUIET_S


class FullCollections:
    """The task that runs full collections for a process serving `gate`'s requests."""

    def __init__(self, gate: AckFirst, working: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        # `clock` must be the event loop's (time.monotonic unless a loop says otherwise): gate.last_arrival is.
        self.gate = gate
        self.working = working
        self.clock = clock
        self.last_full = clock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.set_threshold(*THRESHOLDS)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="full-collections")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def state(self) -> Quiet:
        now = self.clock()
        return Quiet(since_request=now - self.gate.last_arrival, since_full=now - self.last_full,
                     waiting=self.gate.waiting, promoted=gc.get_count()[2], working=self.working())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            if self.state().due():
                started = self.clock()
                found = gc.collect(2)
                self.last_full = self.clock()
                log.debug("full garbage collection: %d unreachable, %.1f ms", found,
                          (self.last_full - started) * 1000)
