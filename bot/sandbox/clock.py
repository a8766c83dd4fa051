"""The sandbox's clock: the wall clock plus an offset that "Skip ahead" moves forward.

The bot reads time in two places: `Deps.clock` (Python) and `now_ms()` in its Lua scripts (Redis TIME), which
decides what is due. Both add the same offset, kept in Redis (keys.clock_offset): the scripts read it there,
this clock keeps a copy. The workspace dates its messages by it too, so everything agrees on "now".
"""

from __future__ import annotations

from bot.deps import wall_clock_ms
from bot.store import Store

SKIP_MS = 15 * 60 * 1000


class SandboxClock:
    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def __call__(self) -> int:
        return wall_clock_ms() + self.offset_ms

    def seconds(self) -> float:
        return self() / 1000

    @classmethod
    async def load(cls, store: Store) -> SandboxClock:
        """Where an earlier run left it (0 on a fresh Redis)."""
        return cls(await store.clock_offset())

    async def skip(self, store: Store, ms: int = SKIP_MS) -> None:
        """Move both clocks ahead: Redis first, so nothing sees the Python side ahead of the scripts'."""
        self.offset_ms = await store.advance_clock(ms)
