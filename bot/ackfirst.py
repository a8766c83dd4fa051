"""Acks before follow-up work.

Slack gives every request 3 seconds to be acknowledged and shows the person an error past that; the work
that follows an ack (opening a modal, redrawing a checklist) has no such deadline, or a looser one (a
modal's trigger id lives 3 s from the command). So, in a burst, a listener's work after `ack()` waits until
the burst is over (no request waiting for its ack, and none arrived for QUIET_S) and the acks go first,
where first-come-first-served would make the last ack of a burst wait for everybody's work.

Each piece of work has a patience: after its `wait_s` it goes in a moment when no request waits for its ack (a
few at a time), and it starts before its `limit_s` whatever waits: the queue is let go early enough that,
at COST_S of event loop each, its last piece still starts in time. So under a load that never pauses the work
still runs, and nothing piles up without limit; and a modal still opens inside its trigger id's life.

The ack is also sent the moment the listener calls `ack()`: Bolt itself only looks for it every 10 ms.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from bot import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patience:
    """How long a piece of work after an ack defers to other requests' acks: after `wait_s` it goes as soon as
    none waits, and by `limit_s` (both from its request's arrival) it starts whatever waits."""

    wait_s: float
    limit_s: float


# A redraw has no deadline, but people watch it.
REDRAW = Patience(wait_s=2.0, limit_s=3.0)
# A modal must be opened within its trigger id's 3 s, counted by Slack from the command; the request reached
# us some time after, and the views.open takes time to reach Slack.
MODAL = Patience(wait_s=0.5, limit_s=1.5)
# A burst is over when no request came for this long (and none waits for its ack).
QUIET_S = 0.02
POLL_S = 0.001
# The event loop time a piece of work holds before the next one can start (a views.open is ~0.3 ms of CPU).
COST_S = 0.0004
# The releaser looks every QUIET_S, later when the loop is busy: limits are kept this far ahead.
MARGIN_S = 0.05
# Work let go at once (a few ms of loop): when the burst is over the queue goes in such slices, the next one only
# if no request came meanwhile, so a new burst's first acks wait for one slice at most; while requests still
# come, one slice of work past its wait goes whenever none of them waits for its ack.
SLICE = 8

R = TypeVar("R")


class Ticket:
    """One request, from its arrival until its ack, and the ack's response once given."""

    __slots__ = ("gate", "arrived", "answered", "acked")

    def __init__(self, gate: AckFirst, arrived: float) -> None:
        self.gate = gate
        self.arrived = arrived
        self.answered = False
        self.acked: asyncio.Future[Any] | None = None  # the response to send, once the listener acked


_current: ContextVar[Ticket | None] = ContextVar("ack_ticket", default=None)
# Dispatches still finishing after their ack was sent (kept referenced until done).
_finishing: set[asyncio.Future[Any]] = set()


class _Waiting(NamedTuple):
    """Work waiting its turn; the queue is sorted by limit (then arrival, unique: futures are never compared)."""

    limit: float
    order: int
    due: float  # its wait is up
    turn: asyncio.Future[None]


class AckFirst:
    """Counts the requests waiting for their ack; work after an ack waits its turn (`after_ack`)."""

    def __init__(self, quiet_s: float = QUIET_S) -> None:
        self.quiet_s = quiet_s
        self.waiting = 0
        self.last_arrival = 0.0  # the event loop's clock (monotonic) when the latest request arrived
        self.previous_arrival = 0.0  # and the one before
        self._queue: list[_Waiting] = []
        self._busy_until = 0.0  # when the work let go so far will have started, at COST_S each
        self._order = itertools.count()
        self._releaser: asyncio.Task[None] | None = None

    @contextmanager
    def request(self) -> Iterator[Ticket]:
        """Around the dispatch of one request: it waits for its ack until the listener acks or the
        dispatch returns. Listeners started inside inherit the ticket (context variables)."""
        ticket = Ticket(self, asyncio.get_running_loop().time())
        self.previous_arrival, self.last_arrival = self.last_arrival, ticket.arrived
        self.waiting += 1
        token = _current.set(ticket)
        try:
            yield ticket
        finally:
            _current.reset(token)
            self.answer(ticket)

    async def dispatch(self, run: Awaitable[R]) -> R:
        """Run one request's dispatch; its response is returned as soon as a listener acks, the rest of
        the dispatch finishing in the background."""
        with self.request() as ticket:
            loop = asyncio.get_running_loop()
            ticket.acked = loop.create_future()
            task = asyncio.ensure_future(run)  # copies the context: the ticket goes with it
            task.add_done_callback(lambda t: _settle(ticket, t))
            try:
                return await ticket.acked  # type: ignore[no-any-return]
            finally:
                if not task.done():
                    _finishing.add(task)
                    task.add_done_callback(_finishing.discard)

    def answer(self, ticket: Ticket) -> None:
        if ticket.answered:
            return
        ticket.answered = True
        self.waiting -= 1

    async def turn(self, ticket: Ticket, patience: Patience) -> None:
        """Return once the burst is over, or in time for `patience` (counted from `ticket`'s arrival)."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        others = self.previous_arrival if self.last_arrival == ticket.arrived else self.last_arrival
        if self.waiting == 0 and began - others >= self.quiet_s and not self._queue:
            metrics.AFTER_ACK_WAIT.observe(0)  # a request on its own: no burst to wait for
            return
        turn: asyncio.Future[None] = loop.create_future()
        bisect.insort(self._queue, _Waiting(ticket.arrived + patience.limit_s, next(self._order),
                                            ticket.arrived + patience.wait_s, turn))
        if self._releaser is None or self._releaser.done():
            self._releaser = loop.create_task(self._release(), name="ack-first")
        await turn
        metrics.AFTER_ACK_WAIT.observe(loop.time() - began)

    def _quiet(self, now: float) -> bool:
        return self.waiting == 0 and now - self.last_arrival >= self.quiet_s

    def _pick(self, now: float) -> list[_Waiting]:
        """While the burst goes on: the work that must start now to start before its limit (and all queued
        ahead of it), and when no request waits for its ack, a few of those whose wait is up."""
        queue = self._queue
        free = max(now, self._busy_until)
        late = -1  # the queue up to here goes now: at COST_S each, the last of it would start too near its limit
        if free + len(queue) * COST_S + MARGIN_S >= queue[0].limit:  # else none can be late (limits ascend)
            for i, item in enumerate(queue):
                if free + i * COST_S + MARGIN_S >= item.limit:
                    late = i
        picked = queue[:late + 1]
        if self.waiting == 0:
            picked += itertools.islice((item for item in itertools.islice(queue, late + 1, None) if item.due <= now),
                                       SLICE)
        if picked:
            gone = {item.order for item in picked}
            self._queue = [item for item in queue if item.order not in gone]
            self._busy_until = free + len(picked) * COST_S
        return picked

    async def _release(self) -> None:
        """One task lets the waiting work go: slice by slice once the burst is over, else as `_pick` says. In a
        burst it looks every QUIET_S at most, however many wait."""
        loop = asyncio.get_running_loop()
        while self._queue:
            now = loop.time()
            quiet = self._quiet(now)
            if quiet:  # a slice, nearest limits first
                released, self._queue = self._queue[:SLICE], self._queue[SLICE:]
                self._busy_until = max(now, self._busy_until) + len(released) * COST_S
            else:
                released = self._pick(now)
            for item in released:
                if not item.turn.done():
                    item.turn.set_result(None)
            if quiet:
                await asyncio.sleep(0)  # the next slice after this one has started, and any request that came
            elif self._queue:
                # Look again when the burst could be over, else in QUIET_S: often enough for the limits (MARGIN_S)
                # and for waits that are up (a few ms late is nothing to them).
                wake = self.last_arrival + self.quiet_s if self.waiting == 0 else now + self.quiet_s
                await asyncio.sleep(max(POLL_S, wake - loop.time()))


def _settle(ticket: Ticket, task: asyncio.Future[Any]) -> None:
    """The dispatch ended: its outcome is the response, unless an ack was sent already."""
    acked = ticket.acked
    if acked is None or acked.done():
        if not task.cancelled() and task.exception() is not None:
            log.error("request failed after its ack was sent", exc_info=task.exception())
        return
    if task.cancelled():
        acked.cancel()
    elif (error := task.exception()) is not None:
        acked.set_exception(error)
    else:
        acked.set_result(task.result())


async def then(patience: Patience = REDRAW) -> None:
    """Called by a listener whose urgent part is done (a modal opened: its trigger id is used) before the rest:
    that waits for the burst again, with `patience` from the request's arrival."""
    ticket = _current.get()
    if ticket is not None:
        await ticket.gate.turn(ticket, patience)


async def after_ack(response: Any, patience: Patience = REDRAW) -> None:
    """Called by a listener right after its ack with the ack's response: it is sent at once, and the
    listener's work waits its turn. Outside a counted request (a listener called directly) it returns."""
    ticket = _current.get()
    if ticket is None:
        return
    if ticket.acked is not None and not ticket.acked.done():
        ticket.acked.set_result(response)
    ticket.gate.answer(ticket)
    await ticket.gate.turn(ticket, patience)
