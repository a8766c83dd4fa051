"""The sandbox's one clock: "Skip ahead" moves Redis's `now_ms` (what decides that an escalation is due) and
the Python clock together, and a deployment, which never sets the offset, reads Redis TIME as before."""

from __future__ import annotations

from bot import keys
from bot.deps import wall_clock_ms
from bot.sandbox.clock import SKIP_MS, SandboxClock
from bot.schedule import Due, DueKind
from bot.store import Store, connect

MINUTE = 60_000


async def test_a_skip_makes_due_what_falls_within_it_on_both_clocks(redis_url):
    store = Store(connect(redis_url))
    try:
        clock = await SandboxClock.load(store)
        assert clock.offset_ms == 0 and await store.clock_offset() == 0
        now = clock()
        within, beyond = Due(DueKind.ESCALATION, "7", 0), Due(DueKind.ESCALATION, "7", 1)
        await store.schedule({within: now + 14 * MINUTE, beyond: now + 16 * MINUTE})
        assert await store.due_members() == []

        await clock.skip(store)
        assert clock.offset_ms == SKIP_MS == await store.clock_offset()
        assert await store.due_members() == [within.member]
        assert abs(clock() - (wall_clock_ms() + SKIP_MS)) < 5_000
        # Python-side Redis time (the dirty set's scores) moved too, not only the scripts'.
        await store.mark_posting("7", "card", "7|card", 10_000)
        marked = await store.redis.zscore(keys.dirty(), "7|card")
        assert marked is not None and abs(marked - clock()) < 5_000

        # A sandbox started again on the same Redis finds the clock where it was left.
        assert (await SandboxClock.load(store)).offset_ms == SKIP_MS
        await clock.skip(store)
        assert await store.due_members() == [within.member, beyond.member]
    finally:
        await store.close()


async def test_without_the_offset_redis_time_is_the_wall_clock(redis_url):
    store = Store(connect(redis_url))
    try:
        await store.mark_posting("8", "card", "8|card", 10_000)
        marked = await store.redis.zscore(keys.dirty(), "8|card")
        assert marked is not None and abs(marked - wall_clock_ms()) < 5_000
        assert await store.redis.exists(keys.clock_offset()) == 0
    finally:
        await store.close()
