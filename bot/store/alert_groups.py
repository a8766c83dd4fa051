"""Alert groups, the store's side: each group's inbox of Alertmanager deliveries, the incident it follows,
what it has recorded, and the suggestion posted for it; processed in order by workflows/alerts.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot import keys
from bot.claims import Claim
from bot.parts import Part
from bot.schedule import Due
from bot.store.base import StoreBase, marks
from bot.store.errors import storage_errors
from bot.store.results import Recorded

# An alert group's state is forgotten this long after its last delivery.
ALERT_GROUP_TTL_MS = 30 * 86_400_000
# Deliveries kept per group while none is processed (each is the whole group: the newest say it all).
ALERT_INBOX_KEEP = 20


class AlertStore(StoreBase):
    """Alert groups: their inbox of deliveries, the incident they follow, what they recorded. Mixed into Store."""

    @storage_errors
    async def alert_enqueue(self, group: str, group_key: str, delivery: str) -> int:
        """Store a delivery and queue its group, in one step; its number in the group."""
        return int(await self.scripts.alert_enqueue(group, Due.alert(group).member, group_key, delivery,
                                                    ALERT_INBOX_KEEP, ALERT_GROUP_TTL_MS))

    @storage_errors
    async def alert_group(self, group: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in (await self.redis.hgetall(keys.alert_group(group))).items()}

    @storage_errors
    async def alert_inbox(self, group: str) -> list[tuple[int, str]]:
        """Deliveries not yet processed, oldest first: (number, JSON)."""
        rows = await self.redis.zrange(keys.alert_inbox(group), 0, -1)
        return [(int(seq), raw) for seq, _, raw in (str(m).partition("|") for m in rows)]

    @storage_errors
    async def alert_begin(self, group: str, expected: str, mode: str, firing: list[str]) -> tuple[str, str]:
        """("open", id), ("new", id), ("suggest", ""), ("suggested", ""), ("quiet", "") or ("retry", "")."""
        res = await self.scripts.alert_begin(group, expected, mode, firing)
        return str(res[0]), str(res[1]) if len(res) > 1 else ""

    @storage_errors
    async def alert_record(self, group: str, incident_id: str, status: str, alerts: list[tuple[str, str]], *,
                           actor: str, at: int, max_rows: int, redraw: Iterable[Part] = ()) -> Recorded:
        """`redraw`: marked dirty with the write, as IncidentStore.set_fields does."""
        res = await self.scripts.alert_record(group, incident_id, status, actor, at, max_rows, alerts,
                                              marks(incident_id, redraw))
        return Recorded(linked=bool(res[0]), changed=bool(res[1]), notes=[int(n) for n in res[2]])

    @storage_errors
    async def alert_link(self, group: str, incident_id: str, expected: str, *, actor: str,
                         at: int) -> tuple[str, str]:
        """("ok", id), ("taken", the group's open incident), ("gone", "") or ("retry", "")."""
        res = await self.scripts.alert_link(group, incident_id, expected, actor, at)
        return str(res[0]), str(res[1]) if len(res) > 1 else ""

    @storage_errors
    async def alert_suggested(self, group: str, fields: dict[str, str]) -> None:
        """What the suggestion for the group says, and where it was posted."""
        mapping: Mapping[Any, Any] = fields
        await self.link.writes.commands(lambda p: p.hset(keys.alert_group(group), mapping=mapping), retry_safe=True)

    @storage_errors
    async def alert_finish(self, group: str, claim: Claim, last_seq: int, retry_at: int | None = None) -> str:
        return str(await self.scripts.alert_finish(group, claim.member, claim.owner, last_seq, retry_at))
