"""What-if runs: the bot with a proposed change patched in at start-up, bot/ itself untouched.

`python -m bench.variant CHANGES serve --http --port N`, CHANGES a comma-separated list of:

- session: the Slack Web API client keeps one aiohttp session (keep-alive connections) instead of
  slack_sdk's default of a new session, and so a new TCP (and, against slack.com, TLS) connection, per call.
- drain: the scheduler starts its next tick at once, instead of sleeping SCHEDULER_INTERVAL, when a tick
  found a full page (50) of due items. (bot/scheduler.py does this itself now, so against the current bot
  this changes nothing; kept to compare with older checkouts.)
- hiredis: redis-py parses replies with hiredis instead of pure Python. hiredis is not a dependency, so
  it must be importable from BENCH_HIREDIS_PATH (`pip install --target DIR hiredis`), which the
  benchmarks put on this process's PYTHONPATH only.
- pool: the Redis client's pool may hold up to 5,000 connections instead of bot/redis_conn.py's MAX_CONNECTIONS
  (past it a command waits up to a second for a free one, then fails and the person hears "Redis unreachable").
- gclog: (diagnostic, no speed change) log every garbage collection that takes over 5 ms (wall and CPU time).
- why: (diagnostic, no speed change) log the underlying cause of every error the bot reports to a person.
- gcfreeze: gc.freeze() once the app is built, so the start-up heap (modules, pydantic and Bolt
  internals, playbooks) is left out of every later full garbage collection (the bot now does this itself).
- gcthresholds: the collector thresholds set after start-up are BENCH_GC_THRESHOLDS (e.g. "700,10,100")
  instead of bot/collector.py's THRESHOLDS.

Used by `python -m bench.whatif` to show how much each proposal moves the figures that miss.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def patch_session() -> None:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot import app

    original = app.make_client

    def make_client(deps: Any) -> AsyncWebClient:
        client = original(deps)
        client.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30))
        return client

    app.make_client = make_client  # create_app looks make_client up in bot.app when it runs


def patch_drain() -> None:
    """No sleep between ticks after a full page, whatever the scheduler's loop otherwise does."""
    import types

    import bot.scheduler as scheduler
    from bot.store import Store

    state = {"full": False}
    original_due = Store.due_members

    async def due_members(self: Store, limit: int = 50) -> list[str]:
        members = await original_due(self, limit)
        state["full"] = len(members) >= limit
        return members

    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        if state["full"] and delay < 1.0:  # the pause between ticks, not the back-off when Redis is away
            state["full"] = False
            return await real_sleep(0, result)
        return await real_sleep(delay, result)

    Store.due_members = due_members  # type: ignore[method-assign]
    proxy = types.SimpleNamespace(**{k: getattr(asyncio, k) for k in dir(asyncio) if not k.startswith("__")})
    proxy.sleep = sleep
    scheduler.asyncio = proxy  # type: ignore[assignment]


def patch_gcfreeze() -> None:
    import gc

    import bot.__main__ as entry

    original = entry.create_web_app

    def create_web_app(*args: Any, **kwargs: Any) -> Any:
        web_app = original(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return web_app

    entry.create_web_app = create_web_app  # type: ignore[assignment]


def patch_gcthresholds() -> None:
    """The thresholds bot/collector.py sets after start-up, from BENCH_GC_THRESHOLDS ("700,10,100"); a third
    threshold within reach lets Python start full collections during bursts again, as before bot/collector.py."""
    import os

    from bot import collector

    collector.THRESHOLDS = tuple(int(x) for x in os.environ["BENCH_GC_THRESHOLDS"].split(","))  # type: ignore[assignment]


def patch_pool() -> None:
    from bot import redis_conn

    redis_conn.MAX_CONNECTIONS = 5_000  # read when connect() builds the pool, which serving does


def patch_why() -> None:
    import logging

    import bot.handlers as handlers

    original = handlers.report
    log = logging.getLogger("bench.why")

    async def report(client: Any, body: Any, error: Exception, **kwargs: Any) -> None:
        log.error("reported %r caused by %r", error, error.__cause__)
        await original(client, body, error, **kwargs)

    handlers.report = report


def patch_gclog() -> None:
    import gc
    import logging
    import time

    log = logging.getLogger("bench.gc")
    started: dict[str, float] = {}

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started["t"], started["cpu"] = time.perf_counter(), time.thread_time()
        elif "t" in started:
            took = time.perf_counter() - started.pop("t")
            cpu = time.thread_time() - started.pop("cpu")
            if took > 0.005:
                # Wall time is what requests wait; CPU time leaves out the process being descheduled (shared cores).
                log.warning("gc generation %s took %.1f ms (%.1f ms CPU; %s collected) at %.3f", info.get("generation"),
                            took * 1000, cpu * 1000, info.get("collected"), time.time())

    gc.callbacks.append(callback)


def main() -> int:
    changes = set(sys.argv[1].split(",")) - {""}
    unknown = changes - {"session", "drain", "gcfreeze", "gcthresholds", "hiredis", "pool", "why", "gclog",
                         "none"}
    if unknown:
        print(f"unknown change(s): {unknown}", file=sys.stderr)
        return 2
    if "hiredis" in changes:
        from redis.utils import HIREDIS_AVAILABLE

        if not HIREDIS_AVAILABLE:
            print("hiredis is not importable: set BENCH_HIREDIS_PATH to a `pip install --target` folder",
                  file=sys.stderr)
            return 2
    if "session" in changes:
        patch_session()
    if "pool" in changes:
        patch_pool()
    if "gclog" in changes:
        patch_gclog()
    if "why" in changes:
        patch_why()
    if "gcfreeze" in changes:
        patch_gcfreeze()
    if "gcthresholds" in changes:
        patch_gcthresholds()
    if "drain" in changes:
        patch_drain()
    from bot.__main__ import main as bot_main

    return bot_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
