"""What every handler needs, built once by the app factory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.playbook import Playbook
from bot.settings import Settings
from bot.slack_client import make_client
from bot.store import Store
from bot.templating import Templates

Clock = Callable[[], int]
# Connections to Slack one process may hold. Each scheduled send in flight holds one at a time (the scheduler
# sends up to scheduler.MAX_IN_FLIGHT = 500 at once, each call taking Slack ~0.1 s or more), and a burst of
# clicks needs its own: at 100 the escalation benchmark was held to ~530 pings/s by waits for a connection.
HTTP_CONNECTIONS = 600


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Deps:
    settings: Settings
    store: Store
    playbooks: dict[str, Playbook]
    clock: Clock = wall_clock_ms
    # Compiled once at start-up (main passes the set `check` already rendered); built here if not given.
    templates: Templates = field(default=None)  # type: ignore[assignment]
    # One Web API client for the process: Bolt's listeners, the scheduler and the workflows share it,
    # and with it one pool of kept-alive connections to Slack.
    client: AsyncWebClient = field(default=None)  # type: ignore[assignment]
    http: aiohttp.ClientSession | None = None
    # The same, without retries: for scheduled posts, which must not be posted twice.
    once_client: AsyncWebClient = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.templates is None:
            self.templates = Templates.load(self.settings.templates_dir, self.playbooks)
        if self.client is None:
            if self.http is None and _loop_running():
                self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS,
                                                                                 keepalive_timeout=60))
            self.client = make_client(self.settings, self.http)
        if self.once_client is None:
            self.once_client = make_client(self.settings, self.http, retries=False)

    async def aclose(self) -> None:
        """Close what the process holds open: Slack connections, then Redis."""
        if self.http is not None:
            await self.http.close()
        await self.store.close()

    def book(self, key: str) -> Playbook | None:
        return self.playbooks.get(key)
