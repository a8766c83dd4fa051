"""Fixtures: a real Redis, the local fake Slack, and bot instances served over HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from bot.app import create_app, create_web_app, shut_down
from bot.deps import Deps, wall_clock_ms
from bot.embedded_redis import free_port
from bot.playbook_file import load_playbooks
from bot.settings import load_settings
from bot.store import Store, connect_settings
from bot.templating import Templates
from slackfake import FakeSlack
from tests.driver import SIGNING_SECRET, SlackDriver
from tests.fake_pagerduty import FakePagerDuty
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
ROSTER = {"perf-oncall": "U_ONCALL", "perf-team": "S_PERF", "perf-lead": "U_LEAD",
          "incident-manager": "U_IM", "vp-engineering": "U_VP"}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    for uid in ("U_DECLARER", "U_ALICE", "U_BOB", "U_ONCALL", "U_LEAD", "U_IM", "U_VP", "U_P1", "U_P2"):
        if uid not in fake.users:
            fake.add_user(uid, uid.lower())
    fake.usergroups["S_PERF"] = ["U_P1", "U_P2"]
    for name in ("incidents", "status"):
        fake.add_channel(name)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


class Bot:
    """One running replica: its own Store (connection pool), Bolt app and HTTP server."""

    def __init__(self, deps: Deps, runner: web.AppRunner, url: str) -> None:
        self.deps = deps
        self.runner = runner
        self.url = url

    async def stop(self) -> None:
        # As the process stops: listeners still working after their ack (an RCA being posted…) finish first,
        # so none is cut off when the event loop closes.
        await shut_down(self.runner, timeout=10)


BotFactory = Callable[..., Any]


@pytest.fixture
async def make_bot(redis_url: str, fake_slack: FakeSlack) -> AsyncIterator[BotFactory]:
    bots: list[Bot] = []

    async def start(*, playbooks: Path = TEST_PLAYBOOKS, run_scheduler: bool = True,
                    clock: Callable[[], int] = wall_clock_ms, **settings: Any) -> Bot:
        settings.setdefault("templates_dir", ROOT / "templates")
        settings.setdefault("roster", ROSTER)
        settings.setdefault("scheduler_interval", 0.1)
        settings.setdefault("redis_url", redis_url)  # another topology (tests/redis_topology.py) may be given
        config = load_settings(
            env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake_slack.url, playbooks_dir=playbooks,
            announce_channel="#incidents", status_channel="#status", **settings,
        )
        books = load_playbooks(config.playbooks_dir)
        store = Store(connect_settings(config, str(config.redis_url)))
        deps = Deps(settings=config, store=store, playbooks=books, clock=clock,
                    templates=Templates.load(config.templates_dir, books))
        web_app = create_web_app(deps, create_app(deps), run_scheduler=run_scheduler)
        runner = web.AppRunner(web_app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        bot = Bot(deps, runner, f"http://127.0.0.1:{port}")
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.stop()


@pytest.fixture
async def driver(fake_slack: FakeSlack) -> AsyncIterator[SlackDriver]:
    d = SlackDriver("", fake_slack)
    yield d
    await d.close()


async def eventually(check: Callable[[], Any], timeout: float = 5.0,  # noqa: ASYNC109
                     interval: float = 0.02) -> Any:
    """Poll `check` until it returns a truthy value (or stops raising AssertionError)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: BaseException | None = None
    while loop.time() < deadline:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except AssertionError as e:
            last = e
        await asyncio.sleep(interval)
    if last:
        raise last
    raise AssertionError("condition not met in time")
