"""3. Cost of one check-off: Redis round trips and commands, Slack calls.

The bot runs in this process (built as tests/conftest.py builds it, scheduler off, so only the clicks
touch Redis) so its redis-py connections can be watched: every `send_packed_command` is one round trip
(a pipeline is one too). Redis's own view comes from MONITOR on a separate connection (top-level
commands versus commands run inside Lua scripts) and from INFO commandstats deltas, which count the
commands inside scripts as their own calls. Clicks are sequential, 0.1 s apart, each flipping a step.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.connection import AbstractConnection

from bench.common import Ctx, answered, inproc_deps, quiet, seeded_fake
from bench.flows import click_body, declare
from bot.app import create_app, create_web_app
from bot.embedded_redis import free_port
from tests.driver import SlackDriver

CLICKS = 40
INCIDENTS = 4
TARGET_RTT = 2
TARGET_SLACK = 1
_NAME = re.compile(rb"^\*\d+\r\n\$\d+\r\n([A-Za-z]+)")


class RoundTrips:
    """Counts redis-py writes (one per command or per pipeline) while `on`, by first command name."""

    def __init__(self) -> None:
        self.on = False
        self.sent: Counter[str] = Counter()
        self._original = AbstractConnection.send_packed_command

    def __enter__(self) -> RoundTrips:
        original = self._original
        counter = self

        async def counting(conn: Any, command: Any, check_health: bool = True) -> None:
            if counter.on:
                first = command if isinstance(command, bytes) else (command[0] if command else b"")
                if isinstance(first, str):
                    first = first.encode()
                m = _NAME.match(first)
                counter.sent[m.group(1).decode().upper() if m else "?"] += 1
            await original(conn, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AbstractConnection.send_packed_command = self._original  # type: ignore[method-assign]


async def _commandstats(client: aioredis.Redis) -> Counter[str]:
    stats = await client.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def run(ctx: Ctx) -> None:
    fake = await seeded_fake()
    deps = inproc_deps(ctx, fake.url)
    runner = web.AppRunner(create_web_app(deps, create_app(deps), run_scheduler=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    driver = SlackDriver("", fake)
    admin = aioredis.Redis.from_url(ctx.redis_url, decode_responses=True)
    monitor_client = aioredis.Redis.from_url(ctx.redis_url, decode_responses=True)
    seen: list[dict[str, Any]] = []
    try:
        targets = []
        for i in range(INCIDENTS):
            d = await declare(driver, url, fake, "perf", f"Click cost {i}")
            incident_id = await deps.store.incident_for_channel(d.channel)
            targets.append((incident_id, d.message))
        await quiet(fake)
        steps = sum(1 for b in targets[0][1].blocks if str(b.get("block_id", "")).startswith("step:0:"))

        def body(n: int) -> str:
            incident_id, message = targets[n % INCIDENTS]
            step = (n // INCIDENTS) % steps
            action = "done" if (n // (INCIDENTS * steps)) % 2 == 0 else "undo"
            return click_body(fake, message, str(incident_id), "perf", 0, step, action, "U_ALICE")

        async def click(n: int) -> float:
            t0 = time.monotonic()
            status, text = await driver.post(body(n), url=url)
            assert status == 200, text
            await asyncio.sleep(0.1)
            updates = [c for c in fake.calls if c.method == "chat.update" and c.at >= t0]
            return (answered(updates[0]) - t0) if updates else float("nan")

        # Warm-up: scripts loaded (EVALSHA, NOSCRIPT, SCRIPT LOAD happen once per script and process).
        n = 0
        for _ in range(6):
            await click(n)
            n += 1
        await quiet(fake)

        async def watch() -> None:
            async with monitor_client.monitor() as m:
                async for cmd in m.listen():
                    seen.append(cmd)

        before = await _commandstats(admin)
        calls_before = len(fake.calls)
        task = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        shown = []
        with RoundTrips() as rt:
            rt.on = True
            for _ in range(CLICKS):
                shown.append(await click(n))
                n += 1
            await quiet(fake)
            rt.on = False
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        after = await _commandstats(admin)
        calls = fake.calls[calls_before:]
    finally:
        await driver.close()
        await runner.cleanup()
        await admin.aclose()
        await monitor_client.aclose()
        await fake.stop()

    delta = after - before
    for housekeeping in ("info", "hello", "client", "monitor"):  # the MONITOR connection's own set-up
        delta.pop(housekeeping, None)
    top = Counter(c["command"].split(" ", 1)[0].upper() for c in seen if c["client_type"] != "lua")
    in_lua = Counter(c["command"].split(" ", 1)[0].upper() for c in seen if c["client_type"] == "lua")
    round_trips = sum(v for k, v in rt.sent.items() if k != "PING")
    slack = Counter(c.method for c in calls)
    per = round_trips / CLICKS
    sec = "3 click cost"
    fmt = lambda cnt: ", ".join(f"{k} {v / CLICKS:g}" for k, v in cnt.most_common())  # noqa: E731
    report = ctx.report
    report.add(sec, "Redis round trips per check-off", f"{per:g}", f"≤ {TARGET_RTT}", per <= TARGET_RTT,
               note=f"bot in the harness process (scheduler off); client side (redis-py writes): {fmt(rt.sent)}; "
                    f"MONITOR top-level: {fmt(top)}")
    report.add(sec, "Redis commands per check-off, scripts' included", f"{sum(delta.values()) / CLICKS:g}",
               note=f"EVALSHA {delta['evalsha'] / CLICKS:g} + {sum(in_lua.values()) / CLICKS:g} inside the scripts; "
                    f"INFO commandstats delta: {fmt(delta)}")
    sl = sum(slack.values()) / CLICKS
    report.add(sec, "Slack calls per check-off", f"{sl:g}", f"{TARGET_SLACK} (chat.update)",
               sl <= TARGET_SLACK and set(slack) <= {"chat.update"},
               note=f"{fmt(Counter(slack))}; click → chat.update answered p50 "
                    f"{sorted(shown)[len(shown) // 2] * 1000:.1f} ms (Slack latency 0)")
    ctx.report.raw["clicks"] = {"client": dict(rt.sent), "monitor_top": dict(top), "monitor_lua": dict(in_lua),
                                "commandstats": dict(delta), "slack": dict(slack)}
    print(f"  clicks: {dict(rt.sent)} top {dict(top)} lua {dict(in_lua)} stats {dict(delta)} slack {dict(slack)}",
          file=sys.stderr)
