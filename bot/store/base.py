"""What every part of the store shares: the link to Redis (its client, the confirmed-write path and the
scripts), the health probes, and Redis's clock as the scripts read it. Each part of `Store` builds on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis.asyncio as redis

from bot import keys
from bot.parts import Part
from bot.redis_conn import Link
from bot.scripts import Marks, Scripts
from bot.store.errors import storage_errors


def marks(incident_id: str, drawn: Iterable[Part], posted: Part | None = None, posting_ms: int = 0) -> Marks:
    """What a change's caller draws (and posts) next, marked with the change (scripts.Marks)."""
    return Marks(drawn=sorted({part.member(incident_id) for part in drawn}),
                 posted=[(incident_id, posted.key, posted.member(incident_id))] if posted else [],
                 posting_ms=posting_ms)


class StoreBase:
    """Takes what `connect` (redis_conn.py) made of REDIS_URL, or a bare client (no write confirmation)."""

    def __init__(self, link: Link | redis.Redis) -> None:
        if isinstance(link, redis.Redis):
            link = Link.bare(link)
        self.link = link
        self.redis = link.client
        self.scripts = Scripts(link.client, link.writes)

    async def close(self) -> None:
        await self.link.aclose()

    @storage_errors
    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    @storage_errors
    async def write_probe(self) -> None:
        """A write the current primary must accept (a replica answers READONLY), confirmed like any other."""
        await self.link.writes.commands(lambda p: p.set(keys.ready_probe(), "1", px=10_000), retry_safe=True)

    async def _now_ms(self) -> int:
        """Redis's clock as the scripts read it (now_ms in lua/_common.lua): TIME plus the sandbox's offset."""
        return int(await self.scripts.now())

    @storage_errors
    async def clock_offset(self) -> int:
        """How far the sandbox has moved the clock ahead, ms (0 in a deployment)."""
        return int(await self.redis.get(keys.clock_offset()) or 0)

    @storage_errors
    async def advance_clock(self, ms: int) -> int:
        """The sandbox's "skip ahead": every script's now_ms moves by `ms`; the new offset."""
        return int(await self.redis.incrby(keys.clock_offset(), ms))


def new_token() -> str:
    return uuid.uuid4().hex
