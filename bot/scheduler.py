"""The background worker: every replica runs one; Redis decides who sends each due item, once.

Each tick asks Redis for due items (one script call, cost independent of how many incidents are open),
claims each with a lease and sends it (workflows/escalate.py; events for PagerDuty: workflows/page.py),
or, for an alert group with deliveries waiting, processes them (workflows/alerts.py). A replica that dies
mid-way lets its lease run out; the next claimant first looks for the earlier post before posting again.
Every few ticks it also sweeps: parts of incidents left dirty by a failure are drawn again (sync.py).
"""

from __future__ import annotations

import asyncio
import logging

from bot import sync
from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.schedule import Due, DueKind
from bot.store import Claim, new_token
from bot.workflows import alerts, escalate, page

log = logging.getLogger(__name__)

# Seconds between sweeps for dirty parts.
SWEEP_INTERVAL = 1.0


class Scheduler:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.owner = new_token()
        self._task: asyncio.Task[None] | None = None
        self._sweep: asyncio.Task[int] | None = None
        self._stopping = False
        self._inflight: dict[asyncio.Task[None], tuple[Due, Claim]] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")

    def pause(self) -> None:
        """Claim nothing more (the process is stopping); what is in flight goes on."""
        self._stopping = True

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop claiming; let sends in flight finish for up to `timeout` s, then hand back the rest."""
        self._stopping = True  # a cancel swallowed inside a Redis call must not keep the loop going
        if self._sweep:
            self._sweep.cancel()
        if self._task:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=timeout)
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
            try:
                await self.tick()
                # The sweep runs beside the ticks: a part Slack is slow to take must not delay a due ping.
                if loop.time() >= next_sweep and (self._sweep is None or self._sweep.done()):
                    next_sweep = loop.time() + SWEEP_INTERVAL
                    self._sweep = loop.create_task(self._swept(), name="sweep")
            except StorageUnavailable:
                log.warning("scheduler: Redis unreachable; retrying")
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval)

    async def _swept(self) -> int:
        try:
            return await sync.sweep(self.deps)
        except StorageUnavailable:
            return 0

    async def tick(self) -> int:
        """Claim and start sending everything due now; returns how many were claimed."""
        members = await self.deps.store.due_members()
        lease_ms = int(self.deps.settings.escalation_lease_seconds * 1000)

        async def take(member: str) -> int:
            due = Due.parse(member)
            claim = await self.deps.store.claim(due, self.owner, lease_ms)
            if claim is None:
                return 0
            task = asyncio.get_running_loop().create_task(self._send(due, claim))
            self._inflight[task] = (due, claim)
            task.add_done_callback(lambda t: self._inflight.pop(t, None))
            return 1

        # Claims go out together: one after another, a burst of due pings fell seconds behind.
        return sum(await asyncio.gather(*(take(m) for m in members)))

    async def _send(self, due: Due, claim: Claim) -> None:
        try:
            if due.kind == DueKind.ALERT:
                await alerts.process(self.deps, due.incident_id, claim)
            elif due.kind == DueKind.PAGE:
                await page.send(self.deps, due, claim)
            else:
                await escalate.send(self.deps, due, claim)
        except Exception:
            # The lease runs out and another attempt follows; the metadata check prevents a double post.
            log.exception("sending %s failed (attempt %s)", claim.member, claim.attempt)
