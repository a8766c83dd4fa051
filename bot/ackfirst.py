"""Acks before follow-up work.

Slack gives every request 3 seconds to be acknowledged and shows the person an error past that; the work
that follows an ack (opening a modal, redrawing a checklist) has no such deadline, or a looser one (a
modal's trigger id lives 3 s from the command). So, in a burst, a listener's work after `ack()` waits until
the burst is over (no request waiting for its ack, and none arrived for QUIET_S) and the acks go first,
where first-come-first-served would make the last ack of a burst wait for everybody's work. The wait is
bounded (MAX_WAIT_S after the request arrived), so under a load that never pauses the work still runs, in
order of arrival, and nothing piles up without limit.

The ack is also sent the moment the listener calls `ack()`: Bolt itself only looks for it every 10 ms.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from bot import metrics

log = logging.getLogger(__name__)

# Work after an ack starts at the latest this long after its request arrived: a redraw has no deadline but
# people watch it; a modal must be opened within its trigger id's 3 seconds, so its work waits less.
MAX_WAIT_S = 2.0
MODAL_WAIT_S = 0.5
# A burst is over when no request came for this long (and none waits for its ack).
QUIET_S = 0.02
POLL_S = 0.001

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


class AckFirst:
    """Counts the requests waiting for their ack; work after an ack waits its turn (`after_ack`)."""

    def __init__(self, quiet_s: float = QUIET_S) -> None:
        self.quiet_s = quiet_s
        self.waiting = 0
        self.last_arrival = 0.0  # the event loop's clock (monotonic) when the latest request arrived
        self.previous_arrival = 0.0  # and the one before
        self._queue: list[tuple[float, int, asyncio.Future[None]]] = []  # a heap of (deadline, arrival, turn)
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

    async def turn(self, ticket: Ticket, max_wait_s: float) -> None:
        """Return once the burst is over, or `max_wait_s` after `ticket`'s request arrived."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        others = self.previous_arrival if self.last_arrival == ticket.arrived else self.last_arrival
        if self.waiting == 0 and began - others >= self.quiet_s and not self._queue:
            metrics.AFTER_ACK_WAIT.observe(0)  # a request on its own: no burst to wait for
            return
        turn: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._queue, (ticket.arrived + max_wait_s, next(self._order), turn))
        if self._releaser is None or self._releaser.done():
            self._releaser = loop.create_task(self._release(), name="ack-first")
        await turn
        metrics.AFTER_ACK_WAIT.observe(loop.time() - began)

    def _quiet(self, now: float) -> bool:
        return self.waiting == 0 and now - self.last_arrival >= self.quiet_s

    async def _release(self) -> None:
        """One task lets the waiting work go: all of it once the burst is over, else each at its deadline.
        It wakes every QUIET_S at most, however many wait."""
        loop = asyncio.get_running_loop()
        while self._queue:
            now = loop.time()
            if self._quiet(now):
                released = sorted(self._queue, key=lambda item: item[1])  # in order of arrival
                self._queue.clear()
            else:
                released = []
                while self._queue and self._queue[0][0] <= now:
                    released.append(heapq.heappop(self._queue))
            for _, _, turn in released:
                if not turn.done():
                    turn.set_result(None)
            if self._queue:
                # Look again when the burst could be over, or at the next deadline; never more than every ms.
                quiet_at = self.last_arrival + self.quiet_s if self.waiting == 0 else now + self.quiet_s
                await asyncio.sleep(max(POLL_S, min(self._queue[0][0], quiet_at) - now))


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


async def then(max_wait_s: float = MAX_WAIT_S) -> None:
    """Called by a listener whose urgent part is done (a modal opened: its trigger id is used) before the rest:
    that waits for the burst again, under `max_wait_s` from the request's arrival."""
    ticket = _current.get()
    if ticket is not None:
        await ticket.gate.turn(ticket, max_wait_s)


async def after_ack(response: Any, max_wait_s: float = MAX_WAIT_S) -> None:
    """Called by a listener right after its ack with the ack's response: it is sent at once, and the
    listener's work waits its turn. Outside a counted request (a listener called directly) it returns."""
    ticket = _current.get()
    if ticket is None:
        return
    if ticket.acked is not None and not ticket.acked.done():
        ticket.acked.set_result(response)
    ticket.gate.answer(ticket)
    await ticket.gate.turn(ticket, max_wait_s)
