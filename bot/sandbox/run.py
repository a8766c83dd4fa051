"""`python -m bot sandbox`: the bot, unchanged, in HTTP mode against a local Slack workspace shown in the browser.

One process and one child: an embedded Redis in a temporary folder (removed on exit), the emulated workspace
with its page on 127.0.0.1:PORT (its Web API under /api/), and the bot on a free loopback port, which it
reaches only as Slack would. Settings come from the environment as for `serve`, but nothing leaves the
machine: Slack is the emulator, Statuspage and PagerDuty are off, routing keys dropped, and REDIS_URL is not
used, since the sandbox moves its clock ahead and that must never reach a real deployment's Redis.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.app import EVENTS_PATH, create_app, create_web_app, shut_down
from bot.check import Checked
from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.errors import ConfigError
from bot.sandbox.clock import SandboxClock
from bot.sandbox.emulator import Emulator
from bot.sandbox.people import People, cast, read_manifest
from bot.sandbox.ui import SandboxUI
from bot.settings import Settings
from bot.store import Store, connect

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
ANNOUNCE, STATUS = "#incidents", "#status"
# A skip makes things due at once, up to 15 minutes "late": that is not the bot having been down, which is
# what a ping sent late says.
LATE_AFTER_S = 86400.0


def sandbox_settings(settings: Settings, people: People, api_url: str, redis_url: str, token: str,
                     secret: str) -> Settings:
    """The operator's settings, pointed at the sandbox and cut off from everything outside it."""
    return settings.model_copy(update={
        "slack_bot_token": SecretStr(token), "slack_signing_secret": SecretStr(secret), "slack_app_token": None,
        "slack_api_url": api_url, "redis_url": redis_url, "roster": people.roster,
        "announce_channel": settings.announce_channel or ANNOUNCE, "status_channel": settings.status_channel or STATUS,
        "statuspage_api_key": None, "statuspage_page_id": None, "pagerduty_webhook_secret": None,
        "alert_webhook_token": None, "late_after_seconds": LATE_AFTER_S,
    })


async def _serve_bot(deps: Deps) -> web.AppRunner:
    runner = web.AppRunner(create_web_app(deps, create_app(deps)), shutdown_timeout=deps.settings.shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def run_sandbox(settings: Settings, checked: Checked, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGHUP: its terminal was closed
        loop.add_signal_handler(sig, stop.set)
    manifest = read_manifest()
    people = cast(checked.books, settings.roster)
    if settings.redis_url:
        log.info("sandbox: REDIS_URL is not used; the sandbox keeps its state in its own temporary Redis")
    announce, status = settings.announce_channel or ANNOUNCE, settings.status_channel or STATUS
    redis = EmbeddedRedis()
    await redis.start()
    store = Store(connect(redis.url))
    session = aiohttp.ClientSession()
    emu: Emulator | None = None
    runner: web.AppRunner | None = None
    try:
        clock = await SandboxClock.load(store)
        emu = Emulator(people, manifest, clock.seconds, [announce, status])
        home = emu.channels.get(announce) or emu.channel_by_name(announce)
        assert home is not None  # the emulator created it

        async def skip() -> None:
            await clock.skip(store)
            log.info("sandbox: the clock is now %d minutes ahead", clock.offset_ms // 60000)

        emu.pages = SandboxUI(emu, home.id, lambda: clock.offset_ms, skip).routes
        try:
            await emu.start(port)
        except OSError as e:
            raise ConfigError(f"sandbox: port {port} on 127.0.0.1 cannot be used ({e.strerror}); choose another "
                              "with --port or PORT") from None
        secret = secrets.token_hex(16)
        config = sandbox_settings(settings, people, emu.url, redis.url, f"xoxb-sandbox-{secrets.token_hex(12)}",
                                  secret)
        deps = Deps(settings=config, store=store, playbooks=checked.books, templates=checked.templates, clock=clock)
        runner = await _serve_bot(deps)
        emu.connect(f"http://127.0.0.1:{runner.addresses[0][1]}{EVENTS_PATH}", secret, session)
        print(f"Sandbox ready: open http://127.0.0.1:{port}/ in a browser. Ctrl-C stops it.", flush=True)
        await stop.wait()
    finally:
        if runner is not None:
            await shut_down(runner, settings.shutdown_timeout)  # the bot's part closes the store
        else:
            await store.close()
        if emu is not None:
            await emu.stop()
        await session.close()
        redis.stop()
    log.info("sandbox stopped")
