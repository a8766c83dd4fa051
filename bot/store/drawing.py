"""Drawing parts in Slack, the store's side (sync.py drives it): a part's render lock, the version and
digest Slack shows, a first post under way, and the dirty set the sweep redraws from."""

from __future__ import annotations

from bot import keys
from bot.claims import wanted
from bot.schedule import Due
from bot.store.base import StoreBase
from bot.store.errors import storage_errors
from bot.store.results import Drawing, drawing

# A render lock outlives any sane chat.update; if its holder dies the sweep draws the part again.
RENDER_LOCK_MS = 10000
# Failed draws in a row before a part is given up (about two minutes of sweeps).
MAX_DRAW_ATTEMPTS = 60


class PartStore(StoreBase):
    """A part's lock, what Slack shows of it, and the dirty set. Mixed into Store."""

    @storage_errors
    async def lock_part(self, incident_id: str, part: str, member: str, token: str) -> Drawing | None:
        """Mark the part dirty and take its lock; None when another caller holds it (or no incident)."""
        return drawing(await self.scripts.lock_part(incident_id, part, member, token, RENDER_LOCK_MS))

    @storage_errors
    async def part_drawn(self, incident_id: str, part: str, member: str, token: str, version: int,
                         digest: str) -> Drawing | None:
        """Slack shows `version`; newer state to draw while the lock is kept, or None (lock released)."""
        return drawing(await self.scripts.part_drawn(incident_id, part, member, token, version, digest,
                                                     RENDER_LOCK_MS))

    @storage_errors
    async def mark_posting(self, incident_id: str, part: str, member: str, ttl_ms: int) -> None:
        """A first post starts: under way for `ttl_ms`, and dirty so the sweep posts it if it never ends."""
        await self.scripts.posting(incident_id, part, member, ttl_ms)

    @storage_errors
    async def posting_failed(self, incident_id: str, part: str, member: str) -> None:
        """A first post failed: no longer under way, and dirty (dated now) so the sweep posts it."""
        await self.scripts.posting(incident_id, part, member, None)

    @storage_errors
    async def posting(self, incident_id: str, part: str) -> bool:
        return bool(await self.redis.exists(keys.posting(incident_id, part)))

    @storage_errors
    async def part_posted(self, incident_id: str, part: str, member: str, version: int, digest: str, token: str,
                          fields: dict[str, str], done: Due | None = None) -> Drawing | None:
        """Keep a posted part's ts (`fields`); Slack shows `version` with `digest`. The newer state to draw,
        its lock taken with `token`, when the incident moved since; else None (nothing to draw). `done`: the
        scheduled item the post finishes (as `finish`)."""
        item = (wanted(done).due_set, done.member) if done else None
        return drawing(await self.scripts.part_posted(incident_id, part, member, version, digest, token,
                                                      RENDER_LOCK_MS, fields, item))

    @storage_errors
    async def part_failed(self, incident_id: str, part: str, member: str, token: str) -> bool:
        """Let go and leave the part dirty; False when it failed too often and was given up."""
        return bool(await self.scripts.part_failed(incident_id, part, member, token, MAX_DRAW_ATTEMPTS))

    @storage_errors
    async def dirty_members(self, older_than_ms: int, limit: int = 50) -> list[str]:
        return [str(m) for m in await self.scripts.due([keys.dirty()], limit, older_than_ms)]

    @storage_errors
    async def forget_dirty(self, member: str) -> None:
        """A part Slack will never take again (message deleted, channel archived)."""
        await self.redis.zrem(keys.dirty(), member)
