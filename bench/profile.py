"""`python -m bench.profile KIND [N] [C]`: where the bot's CPU goes under one kind of load (cProfile).

KIND: help | quick | status | click | escalation. Starts Redis, the fake Slack and one bot process under
cProfile (`python -m cProfile -o … -m bot serve --http`), sends N requests at concurrency C as the ack
benchmark does (or, for escalation, lets 3,000 pings fall due over 10 s), stops the bot with SIGINT
so the profile is written, and prints the top functions by own and cumulative time.
"""

from __future__ import annotations

import asyncio
import io
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import ack, escalation
from bench.common import Proc, bench_playbooks, bot_env, quiet, seeded_fake
from bench.flows import command_body, declare
from bot.store import Store, connect
from tests.driver import SlackDriver
from tests.redis_server import RedisServer


async def profile(kind: str, n: int, c: int) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="ib-bench-prof-"))
    server = RedisServer()
    server.start()
    fake = await seeded_fake(latency=0.1 if kind == "escalation" else 0.0)
    out = tmp / "bot.prof"
    env = bot_env(server.url, fake, bench_playbooks(tmp))
    bot = Proc("prof-bot", ["-m", "cProfile", "-o", str(out), "-m", "bot", "serve", "--http", "--port", "{port}"],
               env, tmp)
    store = Store(connect(server.url))
    driver = SlackDriver("", fake)
    try:
        bot.spawn([1])
        await bot.ready()
        if kind == "escalation":
            await escalation.load_incidents(store, fake, 3000, window_s=10.0, lead_s=2.0)
            await asyncio.sleep(14)
        else:
            if kind in ("click", "status"):
                declared = []
                for i in range(ack.INCIDENTS):
                    d = await declare(driver, bot.url, fake, "perf", f"Profile {i}")
                    incident_id = await store.incident_for_channel(d.channel)
                    declared.append((incident_id, d.message))
                steps = sum(1 for b in declared[0][1].blocks if str(b.get("block_id", "")).startswith("step:0:"))
                bodies = ack.Clicks(fake, declared, steps).next(n) if kind == "click" else [
                    command_body(fake, "status", user="U_ALICE", channel=declared[i % len(declared)][1].channel)
                    for i in range(n)]
            else:
                text = "help" if kind == "help" else "quick Checkout is slow"
                bodies = [command_body(fake, text) for _ in range(n)]
            await quiet(fake)
            t0 = time.monotonic()
            res = await ack._load(bot.url, c, [], bodies, tmp, [0])
            await quiet(fake)
            print(f"{n} {kind} at c={c}: {res['wall']:.1f} s, {time.monotonic() - t0:.1f} s until quiet",
                  file=sys.stderr)
    finally:
        await driver.close()
        await store.close()
        bot.stop(signal.SIGINT)
        await fake.stop()
        server.close()  # stop it and remove its data folder (a 100,000-incident run leaves ~100 MB)
    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(35)
    stats.sort_stats("cumulative").print_stats(60)
    return buf.getvalue()


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else "quick"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    c = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    print(asyncio.run(profile(kind, n, c)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
