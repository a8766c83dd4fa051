"""Scheduled work, the store's side (scheduler.py drives it): putting items in the due sets, claiming what
is due under a lease across replicas, renewing and confirming those leases, and finishing, retrying or
handing an item back."""

from __future__ import annotations

import logging

from redis.asyncio.client import Pipeline
from redis.exceptions import NoPermissionError

from bot import keys, unbroken
from bot.claims import DUE_SETS, Claim, Taken, claim_item, loop_time, outcomes, reserved, wanted
from bot.incident import Event, Incident
from bot.schedule import Due
from bot.scripts import ClaimItem
from bot.store.base import StoreBase
from bot.store.errors import storage_errors
from bot.store.results import PageRequest, snapshot

log = logging.getLogger("bot.store")  # one logger for the whole store


class ScheduleStore(StoreBase):
    """The due sets and the claims on their items. Mixed into Store."""

    _info_refused = False  # the operator was told INFO is refused (once per store)
    # Scheduled members this version cannot read, told once each: left where they are (during a rolling
    # upgrade a newer replica may have written them, and it will take them), so they come back every lease.
    _unreadable: frozenset[str] = frozenset()

    @storage_errors
    async def schedule(self, plan: dict[Due, int]) -> None:
        by_set: dict[str, dict[str, float]] = {}
        for due, at in plan.items():
            by_set.setdefault(wanted(due).due_set, {})[due.member] = float(at)

        def fill(pipe: Pipeline) -> None:
            for key, items in by_set.items():
                # NX: re-planning never pushes back an item that is already due or claimed.
                pipe.zadd(key, items, nx=True)

        if by_set:
            await self.link.writes.commands(fill, retry_safe=True)

    @storage_errors
    async def due_members(self, limit: int = 50) -> list[str]:
        return [str(m) for m in await self.scripts.due(list(DUE_SETS), limit)]

    @storage_errors
    async def take_due(self, owner: str, lease_ms: int, limit: int, max_attempts: int = 10) -> Taken:
        """Claim what is due, up to `limit` items from each due set, in two script calls (reserve, claim);
        `full` when a set gave a whole page, so more may be due already."""
        sent_at = loop_time()
        now, found = reserved(await self.scripts.reserve(list(DUE_SETS), limit, lease_ms))
        per_set = [0] * len(DUE_SETS)
        dues: list[Due] = []
        items: list[ClaimItem] = []
        for index, member, score in found:
            per_set[index - 1] += 1
            try:
                due = Due.parse(member)
            except ValueError:
                if member not in self._unreadable:
                    self._unreadable |= {member}
                    log.error("cannot read scheduled item %r; leaving it for a replica that can (said once)", member)
                continue
            dues.append(due)
            items.append(claim_item(due, str(now + lease_ms), score))
        full = max(per_set) >= limit
        if not items:
            return Taken([], full)
        claims = await self._claim(owner, lease_ms, max_attempts, items, dues, sent_at)
        return Taken([(due, claim) for due, claim in zip(dues, claims, strict=True) if claim is not None], full)

    @storage_errors
    async def claim(self, due: Due, owner: str, lease_ms: int, max_attempts: int = 10) -> Claim | None:
        """Claim one item if it is due now (take_due claims in batches)."""
        return (await self._claim(owner, lease_ms, max_attempts, [claim_item(due)], [due], loop_time()))[0]

    async def _claim(self, owner: str, lease_ms: int, max_attempts: int, items: list[ClaimItem], dues: list[Due],
                     sent_at: float) -> list[Claim | None]:
        """The claim script, with a look at the server that ran it (bot/unbroken.py) when the link looks."""
        look = self.link.looks
        res, acked, extra = await self.scripts.claim(owner, lease_ms, max_attempts, items,
                                                     also=unbroken.LOOK if look else None)
        served = unbroken.served(extra) if look else None  # recorded by the sweep (record_server), not here
        return outcomes(res, dues, owner, lease_ms, sent_at, replicated=acked >= 1, served=served)

    @storage_errors
    async def trim_reserved(self, limit: int = 20) -> int:
        """Forget the first due times of reserved items dropped before any claim (lua/trim_reserved.lua)."""
        return int(await self.scripts.trim_reserved(list(DUE_SETS), limit))

    @storage_errors
    async def record_server(self) -> unbroken.Served | None:
        """Record the primary as bot/unbroken.py says (every sweep does, so that items falling due later may
        count on it); what the server looked like, None when the link does not look or INFO is refused."""
        if not self.link.looks:
            return None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:  # reads only: no WAIT
                unbroken.queue(pipe)
                answers = await pipe.execute()
        except NoPermissionError as e:  # an ACL without INFO: every first attempt looks in Slack, as on Cluster
            if not self._info_refused:
                self._info_refused = True
                log.warning("Redis refused INFO (%s): every first escalation attempt will read the channel's "
                            "history; allow INFO for this user to spare that Slack call", e)
            return None
        served = unbroken.served(answers)
        if served.unrecorded:
            await self.scripts.server_since(served.run_id, served.replid)
        return served

    @storage_errors
    async def renew(self, owner: str, claims: list[tuple[Due, Claim]]) -> list[tuple[Due, Claim]]:
        """The heartbeat: renew every lease in `claims` (all `owner`'s) in one call. The leases not renewed
        are marked lost; returns the claims another replica owns now (the others were finished or dropped)."""
        if not claims:
            return []
        sent_at = loop_time()
        lease_ms = max(claim.lease.ms for _, claim in claims)
        res = await self.scripts.renew(owner, lease_ms, [(wanted(due).due_set, due.member) for due, _ in claims])
        taken = []
        for (due, claim), held in zip(claims, res, strict=True):
            if int(held) == 1:
                claim.lease.renewed(sent_at)
                continue
            claim.lease.lost = True
            if int(held) == 2:
                taken.append((due, claim))
        return taken

    @storage_errors
    async def confirm(self, due: Due, claim: Claim, event: Event, *, need_phase: int | None = None,
                      set_severity: str | None = None, fields: dict[str, str] | None = None,
                      pages: list[PageRequest] | None = None, part: str = "", posting_ms: int = 0) -> Incident | None:
        """Record the item just before posting it, renewing its lease; None if it must not be posted any more.
        The first confirm also queues `pages`. With `part`, that part is marked as mark_posting does."""
        w = wanted(due)
        sent_at = loop_time()
        res = await self.scripts.confirm(w.due_set, due.member, due.incident_id, claim.owner, claim.lease.ms, event,
                                         need_phase, set_severity or "", w.live_field, w.live_value, w.met_field,
                                         fields or {}, [p.as_json() for p in pages or []], part,
                                         f"{due.incident_id}|{part}" if part else "", posting_ms)
        if res[0] == "lost":
            claim.lease.lost = True
        if res[0] != "ok":
            return None
        claim.lease.renewed(sent_at)
        return snapshot(res[1], res[2])

    @storage_errors
    async def release(self, due: Due, claim: Claim) -> bool:
        """Hand a claim back (shutting down); False if it was no longer ours."""
        return bool(await self.scripts.release(wanted(due).due_set, due.member, claim.owner))

    @storage_errors
    async def finish(self, due: Due) -> None:
        await self.scripts.finish(wanted(due).due_set, due.member, due.incident_id)

    @storage_errors
    async def retry_later(self, due: Due, claim: Claim, delay_ms: int, *, counted: bool = True) -> bool:
        """Send a claimed item again in `delay_ms`; False if the claim was no longer ours."""
        return bool(await self.scripts.retry(wanted(due).due_set, due.member, claim.owner, delay_ms, counted))

    @storage_errors
    async def sending(self, incident_id: str) -> str | None:
        value = await self.redis.hget(keys.incident(incident_id), "sending")
        return str(value) if value else None
