"""The paths people wait on: a Done click is one script before drawing, and the command modals that need the
incident open before anything is read (Slack's trigger id lives three seconds)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot import keys, logs
from bot.handlers import drain
from bot.settings import load_settings
from bot.slack_client import make_client
from tests.conftest import eventually
from tests.flows import all_text, declare, phase_message
from tests.test_tampering import replace_channel

ALICE = "U_ALICE"


class Watch:
    """Redis's MONITOR, and a client of the test's own whose commands it leaves out."""

    def __init__(self, monitor: Any, client: aioredis.Redis, addr: str) -> None:
        self.monitor, self.client, self.addr = monitor, client, addr

    async def seen(self) -> list[dict[str, Any]]:
        """Commands run since the last call, but the test's own: top-level ones and those scripts ran (told
        apart by client_type "lua")."""
        marker = f"end-{uuid.uuid4().hex}"
        await self.client.echo(marker)
        out: list[dict[str, Any]] = []
        while True:
            command = await asyncio.wait_for(self.monitor.next_command(), 10)
            if marker in command["command"]:
                return out
            if f"{command['client_address']}:{command['client_port']}" != self.addr:
                out.append(command)


@asynccontextmanager
async def monitored(url: str) -> AsyncIterator[Watch]:
    watcher = aioredis.Redis.from_url(url, decode_responses=True)
    client = aioredis.Redis.from_url(url, decode_responses=True, single_connection_client=True)
    try:
        addr = str((await client.client_info())["addr"])
        async with watcher.monitor() as monitor:
            yield Watch(monitor, client, addr)
    finally:
        await watcher.aclose()
        await client.aclose()


def top_level(commands: list[dict[str, Any]]) -> list[str]:
    """Commands clients sent (not those scripts ran), by name; redis-py's connection health checks left out."""
    names = [c["command"].split(" ", 1)[0].upper() for c in commands if c["client_type"] != "lua"]
    return [n for n in names if n != "PING"]


async def settled(redis: aioredis.Redis) -> None:
    """Every part drawn and let go: nothing left for the click under test to wait on."""

    async def clean() -> bool:
        locks = [k async for k in redis.scan_iter(match=keys.render_lock("*", "*"))]
        return not locks and await redis.zcard(keys.dirty()) == 0

    await eventually(clean)


@pytest.fixture
async def two(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    a = await declare(driver, bot, fake_slack, "quick Incident A")
    b = await declare(driver, bot, fake_slack, "quick Incident B")
    # The first step done also redraws the card (the acknowledge target); the clicks below are the usual kind.
    await driver.click(phase_message(fake_slack, a.channel, 0), "step:0:0", user=ALICE, url=bot.url)
    await eventually(lambda: "✅" in all_text(phase_message(fake_slack, a.channel, 0)))
    await settled(bot.deps.store.redis)
    return bot, a, b


async def test_done_click_is_one_script_then_the_drawing(two, driver, fake_slack, redis_url):
    bot, a, _ = two
    updates = len(fake_slack.calls_to("chat.update"))
    async with monitored(redis_url) as watch:
        await driver.click(phase_message(fake_slack, a.channel, 0), "step:0:1", user=ALICE, url=bot.url)
        await eventually(lambda: all_text(phase_message(fake_slack, a.channel, 0)).count("✅") == 2)
        await settled(watch.client)
        commands = await watch.seen()
    # The step script (channel checked, step changed, message locked), chat.update, the script letting go.
    assert top_level(commands) == ["EVALSHA", "EVALSHA"], commands
    assert len(fake_slack.calls_to("chat.update")) == updates + 1
    assert (await bot.deps.store.get(a.incident_id)).step(0, 1) is not None


async def test_click_in_another_channel_is_refused_by_the_one_script(two, driver, fake_slack, redis_url):
    bot, a, b = two
    steps_b = (await bot.deps.store.get(b.incident_id)).steps
    updates = len(fake_slack.calls_to("chat.update"))
    async with monitored(redis_url) as watch:
        # B's message, as if clicked in A's channel: the channel names A, the button B.
        moved = replace_channel(phase_message(fake_slack, b.channel, 0), a.channel)
        await driver.click(moved, "step:0:1", user=ALICE, url=bot.url)
        said = await eventually(lambda: _told(fake_slack))
        commands = await watch.seen()
    assert "another incident" in said[0]
    assert top_level(commands) == ["EVALSHA"], commands
    assert [c["command"].split(" ", 1)[0].upper() for c in commands if c["client_type"] == "lua"] == ["GET"]
    assert (await bot.deps.store.get(b.incident_id)).steps == steps_b
    assert (await bot.deps.store.get(a.incident_id)).step(0, 1) is None
    assert len(fake_slack.calls_to("chat.update")) == updates
    # Clicked in a channel that is no incident's at all.
    outside = replace_channel(phase_message(fake_slack, b.channel, 0), "C_GENERAL")
    await driver.click(outside, "step:0:1", user=ALICE, url=bot.url)
    said = await eventually(lambda: len(_told(fake_slack)) == 2 and _told(fake_slack))
    assert "incident channel" in said[1]
    assert (await bot.deps.store.get(b.incident_id)).steps == steps_b


def _told(fake_slack: Any) -> list[str]:
    return [str(b.get("text", "")) for k, b in fake_slack.response_posts if k.startswith("click-")]


@pytest.mark.parametrize(("command", "title", "label"), [("resolve", "Resolve incident", "Cause"),
                                                         ("status", "Status update", "Update")])
async def test_command_modal_opens_before_redis_is_read(make_bot, driver, fake_slack, redis_url, command, title,
                                                        label):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick Open first")
    await settled(bot.deps.store.redis)
    opened_before = len(fake_slack.calls_to("views.open"))
    gate = fake_slack.hold("views.open")
    try:
        async with monitored(redis_url) as watch:
            status, _, _ = await driver.command(command, channel=inc.channel, url=bot.url)
            assert status == 200
            opening = (await eventually(lambda: fake_slack.calls_to("views.open")[opened_before:]))[-1]
            # views.open has reached Slack and is not answered yet: the bot has not touched Redis.
            assert await watch.seen() == []
        assert "submit" not in opening.args["view"] and "Open first" not in str(opening.args["view"])
    finally:
        gate.set()
    filled = await fake_slack.wait_for("views.update")
    view = filled[-1].response["view"]
    assert filled[-1].args["view_id"] == opening.response["view"]["id"]
    assert fake_slack.calls.index(opening) < fake_slack.calls.index(filled[-1])
    assert view["title"]["text"] == title and view["submit"] and "Open first" in str(view["blocks"])
    assert label in [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    # Bound to the incident by the view's id before it could be submitted.
    assert (await bot.deps.store.view_binding(view["id"]) or ("",))[0] == inc.incident_id


@pytest.mark.parametrize("command", ["resolve", "status"])
async def test_command_modal_outside_an_incident_says_why(make_bot, driver, fake_slack, command):
    bot = await make_bot(run_scheduler=False)
    await driver.command(command, channel="C_GENERAL", url=bot.url)
    opened = (await fake_slack.wait_for("views.open"))[-1].response["view"]
    filled = await fake_slack.wait_for("views.update", where=lambda c: c.args.get("view_id") == opened["id"])
    view = filled[-1].response["view"]
    assert "incident channel" in str(view["blocks"]) and "submit" not in view
    assert await bot.deps.store.view_binding(opened["id"]) is None


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_slack_client_logs_at_the_configured_level_only(level):
    """slack_sdk formats each call's whole body for a debug line unless its logger has a level of its own."""
    root = logging.getLogger()
    touched = [root, logging.getLogger("slack_bolt"), logging.getLogger(logs.SLACK_SDK_LOGGER)]
    saved = [(lg, lg.level) for lg in touched], root.handlers[:]
    try:
        logs.setup(level, "text")
        settings = load_settings(env_file=None, slack_bot_token="xoxb-t", slack_signing_secret="s")
        assert make_client(settings).logger.level == getattr(logging, level)
    finally:
        for lg, was in saved[0]:
            lg.setLevel(was)
        root.handlers[:] = saved[1]


async def test_modal_closed_before_it_is_filled_in_is_no_error(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick Closed quickly")
    fake_slack.fail("views.update", "not_found")  # what Slack answers once the person has closed the view
    _, _, key = await driver.command("resolve", channel=inc.channel, url=bot.url)
    await fake_slack.wait_for("views.update", where=lambda c: c.error == "not_found")
    assert await drain(10) == 0  # the listener has finished: anything it had to say was said
    assert not [b for k, b in fake_slack.response_posts if k == key]
    assert (await bot.deps.store.get(inc.incident_id)).is_open


async def test_declare_modal_opens_before_redis_is_read(make_bot, driver, fake_slack, redis_url):
    bot = await make_bot(run_scheduler=False)
    gate = fake_slack.hold("views.open")
    try:
        async with monitored(redis_url) as watch:
            await driver.command("quick Checkout is slow", url=bot.url)
            opening = (await eventually(lambda: fake_slack.calls_to("views.open")))[-1]
            assert await watch.seen() == []
    finally:
        gate.set()
    view = (await fake_slack.wait_for("views.open"))[-1].response["view"]
    assert opening.args["view"]["callback_id"] == "declare" and view["submit"]
    # Where to answer once submitted is kept by the view's id once it is open.
    await eventually(lambda: bot.deps.store.view_binding(view["id"]))
