"""Reading an incident's timeline: the stream of everything that happened to it, a page at a time or the
whole of it paged so that huge incidents stay cheap to read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from bot import keys
from bot.incident import Event
from bot.store.base import StoreBase
from bot.store.errors import storage_errors


class TimelineStore(StoreBase):
    """An incident's timeline, read. Mixed into Store (the scripts that change an incident write it)."""

    @storage_errors
    async def timeline(self, incident_id: str, *, start: str = "-", count: int = 1000) -> list[Event]:
        # redis-py has decoded every field already (decode_responses): no second pass over them.
        rows = cast(list[tuple[str, dict[str, str]]],
                    await self.redis.xrange(keys.timeline(incident_id), min=start, max="+", count=count))
        return [Event.from_stream(sid, raw or {}) for sid, raw in rows or []]

    async def iter_timeline(self, incident_id: str, page: int = 1000) -> AsyncIterator[Event]:
        """The whole timeline, paged with exclusive start ids so huge incidents stay cheap."""
        start = "-"
        while True:
            batch = await self.timeline(incident_id, start=start, count=page)
            for ev in batch:
                yield ev
            if len(batch) < page:
                return
            start = "(" + batch[-1].stream_id
