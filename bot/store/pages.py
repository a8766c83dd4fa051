"""Pages through PagerDuty, the store's side: queueing a page for a role, dropping a sent event from the
queue, and reading back an incident's pages and which incident a dedup key belongs to."""

from __future__ import annotations

from bot import keys
from bot.claims import Claim, wanted
from bot.incident import Event
from bot.schedule import Due
from bot.store.base import StoreBase
from bot.store.errors import storage_errors
from bot.store.results import PageRequest, Pages, check


class PageStore(StoreBase):
    """An incident's pages and the events queued for PagerDuty. Mixed into Store."""

    @storage_errors
    async def request_page(self, incident_id: str, page: PageRequest, event: Event) -> None:
        """Page a role of an open incident now (IncidentClosed when it is not)."""
        res = await self.scripts.page_request(incident_id, page.role, page.key, page.why, event)
        check(res[0], incident_id)

    @storage_errors
    async def page_done(self, due: Due, claim: Claim, event: Event) -> bool:
        """Drop a sent (or failed) PagerDuty event from the queue, recording `event` once; True if this call
        recorded it."""
        return bool(await self.scripts.page_done(due.incident_id, due.member, claim.owner, event))

    @storage_errors
    async def pages(self, incident_id: str) -> Pages:
        fields = await self.redis.hgetall(keys.pager(incident_id))
        return Pages.from_redis({str(k): str(v) for k, v in fields.items()})

    @storage_errors
    async def page_target(self, dedup_key: str) -> tuple[str, str] | None:
        """(incident id, role) of a dedup key the bot sent to PagerDuty; None for any other key."""
        value = await self.redis.hget(keys.pager_index(), dedup_key)
        if not value:
            return None
        incident_id, _, role = str(value).partition("|")
        return incident_id, role

    @storage_errors
    async def any_queued(self, dues: list[Due]) -> bool:
        """Whether any of these items is still waiting (or being sent)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for due in dues:
                pipe.zscore(wanted(due).due_set, due.member)
            return any(score is not None for score in await pipe.execute())
