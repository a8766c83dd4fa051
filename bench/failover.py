"""`python -m bench.failover [runs]`: how fast the bot follows a Sentinel failover, and what a click burst loses.

Each run starts a primary, one replica and three sentinels (tests/redis_topology.py: down-after-milliseconds
1000, failover-timeout 4000, quorum 2), two bot replicas in this process (HTTP on loopback, fake Slack, as the
tests build them) and a third Store that writes the readiness probe every 20 ms. Clicks on distinct steps go
to the two replicas alternately, one every 50 ms, from 1 s before the failover (graceful: SENTINEL FAILOVER;
crash: SIGKILL of the primary) to 8 s after. The last row is the graceful failover again with write confirmation
off (REDIS_WAIT_REPLICAS=0), to show what it is for. Written to bench/failover.md; figures, not tests.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import ROOT, ROSTER, SECRET, conditions
from bot import handlers, keys
from bot.app import create_app, create_web_app
from bot.deps import Deps
from bot.embedded_redis import free_port
from bot.errors import StorageUnavailable
from bot.playbook_file import load_playbooks
from bot.settings import load_settings
from bot.store import Store, connect_settings
from slackfake import FakeSlack
from tests.conftest import Bot
from tests.driver import SlackDriver
from tests.flows import declare, phase_message
from tests.redis_topology import SentinelGroup
from tests.test_failover import burst_playbooks

OUT = ROOT / "bench" / "failover.md"
CLICK_EVERY_S = 0.05
PROBE_EVERY_S = 0.02
BEFORE_S, AFTER_S = 1.0, 8.0


@dataclass
class Run:
    kind: str
    follow_s: list[float] = field(default_factory=list)  # per bot replica: trigger → its pool names the new primary
    longest_write_s: float = 0.0
    refused_span_s: float = 0.0  # first → last refused probe write
    clicks: int = 0
    acknowledged: int = 0
    told_retry: int = 0
    lost: int = 0


async def _bot(group: SentinelGroup, fake: FakeSlack, books: Path, wait: int) -> Bot:
    settings = load_settings(env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                             slack_api_url=fake.url, redis_url=group.url, playbooks_dir=books,
                             templates_dir=ROOT / "templates", announce_channel="#incidents",
                             status_channel="#status", roster=ROSTER, scheduler_interval=0.1,
                             redis_wait_replicas=wait)
    deps = Deps(settings=settings, store=Store(connect_settings(settings, group.url)),
                playbooks=load_playbooks(books))
    runner = web.AppRunner(create_web_app(deps, create_app(deps)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return Bot(deps, runner, f"http://127.0.0.1:{port}")


async def one_run(kind: str, tmp: Path) -> Run:
    run = Run(kind)
    group = SentinelGroup(down_after_ms=1000).start()
    fake = FakeSlack()
    fake.add_user("U_DECLARER", "declarer")
    fake.add_user("U_ALICE", "alice")
    for name in ("incidents", "status"):
        fake.add_channel(name)
    await fake.start()
    driver = SlackDriver("", fake)
    bots: list[Bot] = []
    wait = 0 if kind == "unconfirmed" else 1
    prober = Store(connect_settings(load_settings(env_file=None, redis_url=group.url, redis_wait_replicas=wait),
                                    group.url))
    try:
        books = burst_playbooks(tmp)
        bots = [await _bot(group, fake, books, wait) for _ in range(2)]
        incidents = []
        for _ in range(5):  # 36 steps each; enough for a click every 50 ms for 9 s
            incidents.append(await declare(driver, bots[0], fake, "burst Checkout is slow"))
        old = group.primary()
        loop = asyncio.get_running_loop()
        trigger_at = loop.time() + BEFORE_S
        refused: list[float] = []
        stop = asyncio.Event()

        async def probe() -> None:
            while not stop.is_set():
                started = loop.time()
                try:
                    await prober.write_probe()
                except StorageUnavailable:
                    refused.append(started - trigger_at)
                run.longest_write_s = max(run.longest_write_s, loop.time() - started)
                await asyncio.sleep(PROBE_EVERY_S)

        async def watch_follow(bot: Bot) -> None:
            pool: Any = bot.deps.store.redis.connection_pool
            while not stop.is_set():
                known = pool.master_address
                if loop.time() > trigger_at and known is not None and int(known[1]) != old:
                    run.follow_s.append(loop.time() - trigger_at)
                    return
                await asyncio.sleep(0.005)

        async def trigger() -> None:
            await asyncio.sleep(max(0.0, trigger_at - loop.time()))
            if kind != "crash":
                group.failover()
            else:
                group.kill(old)

        clicks: list[tuple[str, int, str]] = []

        async def click(n: int) -> None:
            inc = incidents[n // 36]
            key = f"bench-{n}"
            clicks.append((inc.incident_id, n % 36, key))
            message = phase_message(fake, inc.channel, 0)
            await driver.click(message, f"step:0:{n % 36}", user="U_ALICE", url=bots[n % 2].url, key=key)

        tasks = [asyncio.create_task(probe()), asyncio.create_task(trigger()),
                 *(asyncio.create_task(watch_follow(bot)) for bot in bots)]
        sent = []
        for n in range(int((BEFORE_S + AFTER_S) / CLICK_EVERY_S)):
            sent.append(asyncio.create_task(click(n)))
            await asyncio.sleep(CLICK_EVERY_S)
        await asyncio.gather(*sent)
        await handlers.drain(60)
        stop.set()
        await asyncio.gather(*tasks)
        new = group.primary()
        told = {k for k, _ in fake.response_posts}
        with group.client(new) as client:
            stored = {(i, s) for i in {c[0] for c in clicks}
                      for s in (int(f.split(":")[1]) for f in client.hgetall(keys.steps(i)) if f.startswith("0:"))}
        run.clicks = len(clicks)
        run.told_retry = sum(1 for c in clicks if c[2] in told)
        run.acknowledged = run.clicks - run.told_retry
        run.lost = sum(1 for i, s, k in clicks if k not in told and (i, s) not in stored)
        run.refused_span_s = (max(refused) - min(refused)) if refused else 0.0
        return run
    finally:
        for bot in bots:
            await bot.stop()
        await prober.close()
        await driver.close()
        await fake.stop()
        group.close()


def _fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s" if values else "—"


async def main_async(runs: int) -> int:
    results: dict[str, list[Run]] = {"graceful": [], "crash": [], "unconfirmed": []}
    for kind in results:
        for i in range(runs):
            with tempfile.TemporaryDirectory(prefix="ib-bench-failover-") as tmp:
                print(f"[bench] failover {kind} run {i + 1}/{runs} …", file=sys.stderr)
                results[kind].append(await one_run(kind, Path(tmp)))
    group = SentinelGroup().start()
    try:
        with group.client(group.primary()) as c:
            conds = conditions(c.info("server") | c.info("memory"), c.config_get("append*"))
    finally:
        group.close()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = ["# Failover figures", "", f"`python -m bench.failover {runs}`, {when}. Written by bench/failover.py; "
             "figures, not tests.", "", __doc__.split("\n\n", 1)[1].strip(), "", "## Conditions", "", "| | |",
             "|---|---|", *(f"| {k} | {v} |" for k, v in conds.items()), "", "## Figures", "",
             "| failover | bots follow the new primary | longest write | writes refused for | clicks sent / "
             "acknowledged / told to retry | acknowledged clicks lost |", "|---|---|---|---|---|---|"]
    for kind, rs in results.items():
        label = {"graceful": "graceful (SENTINEL FAILOVER)", "crash": "crash (SIGKILL of the primary)",
                 "unconfirmed": "graceful, REDIS_WAIT_REPLICAS=0 (for comparison)"}[kind]
        lines.append(f"| {label} | {_fmt([f for r in rs for f in r.follow_s])} | "
                     f"{_fmt([r.longest_write_s for r in rs])} | {_fmt([r.refused_span_s for r in rs])} | "
                     f"{sum(r.clicks for r in rs)} / {sum(r.acknowledged for r in rs)} / "
                     f"{sum(r.told_retry for r in rs)} | {sum(r.lost for r in rs)} |")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r.lost == 0 for kind, rs in results.items() if kind != "unconfirmed" for r in rs) else 1


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    return asyncio.run(main_async(runs))


if __name__ == "__main__":
    sys.exit(main())
