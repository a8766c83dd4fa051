"""The background worker: every replica runs one; Redis decides who sends each due item, once.

Each tick claims a batch of due items (two script calls, whatever the number of open incidents: see
bot/claims.py), reads the incidents they concern in one round trip, and starts sending each
(workflows/escalate.py; events for PagerDuty: workflows/page.py; alert groups: workflows/alerts.py). When a
due set gave a whole page, the next tick follows at once instead of after SCHEDULER_INTERVAL. Beside the
ticks, a heartbeat renews the leases of everything in flight in one call every third of a lease, so a
replica stuck on a slow post keeps its items and one that died loses them within a lease. Every second it
also sweeps: parts of incidents left dirty by a failure are drawn again (sync.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot import sync
from bot.claims import Claim
from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.incident import Incident
from bot.schedule import Due, DueKind
from bot.store import new_token
from bot.workflows import alerts, declare, escalate, page

log = logging.getLogger(__name__)

# Seconds between sweeps for dirty parts.
SWEEP_INTERVAL = 1.0
# Items claimed per due set in one tick (one script call claims them all).
PAGE = 100
# Items one replica sends at once; past it, it claims nothing more until some are done, leaving the rest
# to the other replicas (each claim is renewed by the heartbeat until it is done).
MAX_IN_FLIGHT = 500
# The kinds sent by workflows/escalate.py, which needs the incident: read for the whole batch at once.
NEEDS_INCIDENT = frozenset({DueKind.ESCALATION, DueKind.PHASE, DueKind.TARGET, DueKind.RCA})


class Scheduler:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.owner = new_token()
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._sweep: asyncio.Task[int] | None = None
        self._stopping = False
        self._beating = True  # the heartbeat goes on while the sends in flight finish, until stop() ends it
        self._inflight: dict[asyncio.Task[None], tuple[Due, Claim]] = {}
        self._overloaded_until = 0.0  # loop time until which nothing new is claimed (see _renew)
        self._room = asyncio.Event()  # set when a send ends: a replica at MAX_IN_FLIGHT may claim again

    @property
    def lease_ms(self) -> int:
        return int(self.deps.settings.escalation_lease_seconds * 1000)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="scheduler")
        self._heartbeat = loop.create_task(self._renew(), name="scheduler-heartbeat")

    def pause(self) -> None:
        """Claim nothing more (the process is stopping); what is in flight goes on."""
        self._stopping = True

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop claiming; let sends in flight finish for up to `timeout` s (their leases still renewed),
        then hand back the rest."""
        self._stopping = True  # a cancel swallowed inside a Redis call must not keep the loop going
        if self._sweep:
            self._sweep.cancel()
            await asyncio.wait([self._sweep], timeout=timeout)  # before Redis is closed under it
        if self._task:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=timeout)
        try:
            await self._hand_back(timeout)
        finally:
            if self._heartbeat:
                self._beating = False
                self._heartbeat.cancel()
                await asyncio.wait([self._heartbeat], timeout=timeout)

    async def _hand_back(self, timeout: float) -> None:  # noqa: ASYNC109
        if not self._inflight:
            return
        _, pending = await asyncio.wait(list(self._inflight), timeout=timeout)
        unfinished = [self._inflight[t] for t in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for due, claim in unfinished:
            try:
                await self.deps.store.release(due, claim)
            except StorageUnavailable:
                log.warning("could not hand back %s; it is taken over when its lease runs out", due.member)
        if unfinished:
            log.info("handed back %d unfinished item(s) to the other replicas", len(unfinished))

    async def _run(self) -> None:
        interval = self.deps.settings.scheduler_interval
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not self._stopping:
            full = False
            try:
                full = await self.tick()
                # The sweep runs beside the ticks: a part Slack is slow to take must not delay a due ping.
                if loop.time() >= next_sweep and (self._sweep is None or self._sweep.done()):
                    next_sweep = loop.time() + SWEEP_INTERVAL
                    self._sweep = loop.create_task(self._swept(), name="sweep")
            except StorageUnavailable:
                log.warning("scheduler: Redis unreachable; retrying")
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("scheduler tick failed")
            if len(self._inflight) >= MAX_IN_FLIGHT:
                # Busy: wait for a send to finish (or the interval) rather than claim what others could send.
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), timeout=interval)
            elif full:
                await asyncio.sleep(0)  # more is due already: the next page at once, after letting sends run
            else:
                await asyncio.sleep(interval)

    async def _swept(self) -> int:
        try:
            # The primary is recorded before its items fall due, so their first attempts skip Slack's history.
            await self.deps.store.record_server()
            await self.deps.store.trim_reserved()
        except Exception:  # noqa: BLE001 - only a saving is lost; the sweep must run regardless
            log.info("could not record the Redis server, or trim reserved items", exc_info=True)
        try:
            return await sync.sweep(self.deps) + await declare.set_up_left_behind(self.deps)
        except StorageUnavailable:
            return 0

    async def tick(self) -> bool:
        """Claim and start sending a batch of what is due now; True when a due set gave a whole page, so
        more may be due already."""
        loop = asyncio.get_running_loop()
        room = MAX_IN_FLIGHT - len(self._inflight)
        if room <= 0 or loop.time() < self._overloaded_until:
            return False
        taken = await self.deps.store.take_due(self.owner, self.lease_ms, min(PAGE, room))
        running = {due.member: claim for due, claim in self._inflight.values()}
        fresh = []
        for due, claim in taken.claims:
            if (mine := running.get(due.member)) is not None:
                # Still sending it, but its lease ran out unrenewed and this replica took it again: the send
                # under way goes on with the new lease, not a second one beside it.
                mine.lease.until, mine.lease.lost = claim.lease.until, False
            else:
                fresh.append((due, claim))
        wanted = {due.incident_id for due, _ in fresh if due.kind in NEEDS_INCIDENT}
        incidents: dict[str, Incident] = await self.deps.store.get_many(wanted) if wanted else {}
        for due, claim in fresh:
            task = loop.create_task(self._send(due, claim, incidents.get(due.incident_id)))
            self._inflight[task] = (due, claim)
            task.add_done_callback(self._done)
        return taken.full

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._room.set()

    async def _renew(self) -> None:
        """The heartbeat: every third of a lease, renew the leases of everything in flight in one call. When
        it wakes up a whole period late, the event loop is overloaded: claim nothing new until the next beat,
        so the sends under way keep their leases rather than lose them to another replica mid-post."""
        loop = asyncio.get_running_loop()
        period = self.lease_ms / 3000
        while self._beating:  # not only the cancel: one swallowed inside a Redis call must not keep it beating
            woke = loop.time() + period
            await asyncio.sleep(period)
            if not self._beating:
                return
            if loop.time() - woke > period:
                log.warning("scheduler: event loop %.1f s behind; claiming nothing new for %.1f s",
                            loop.time() - woke, period)
                self._overloaded_until = loop.time() + period
            held = list(self._inflight.values())
            if not held:
                continue
            try:
                taken = await self.deps.store.renew(self.owner, held)
            except StorageUnavailable:
                log.warning("scheduler: could not renew %d lease(s): Redis unreachable", len(held))
                continue
            except Exception:
                log.exception("scheduler: renewing leases failed")
                continue
            for due, claim in taken:
                log.warning("lost the lease of %s (attempt %s): another replica has it", due.member, claim.attempt)

    async def _send(self, due: Due, claim: Claim, incident: Incident | None) -> None:
        try:
            if due.kind == DueKind.ALERT:
                await alerts.process(self.deps, due.incident_id, claim)
            elif due.kind == DueKind.PAGE:
                await page.send(self.deps, due, claim)
            else:
                await escalate.send(self.deps, due, claim, incident)
        except Exception:
            # The lease runs out and another attempt follows; it looks for this one's post before posting.
            log.exception("sending %s failed (attempt %s)", claim.member, claim.attempt)
