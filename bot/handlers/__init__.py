"""Slack listeners, one module per area. Each module exposes `register(app, deps)`."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.replies import report

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


def guarded(fn: Callable[[Any, dict[str, Any], AsyncWebClient], Awaitable[None]]) -> Listener:
    """Wrap a listener so every failure reaches the person through the one error handler."""

    @functools.wraps(fn)
    async def listener(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            await fn(ack, body, client)
        except Exception as e:  # noqa: BLE001 - this is the single place errors are reported
            await report(client, body, e)

    return listener


def background(deps: Deps, coro: Coroutine[Any, Any, None], client: AsyncWebClient,
               body: dict[str, Any], response_url: str = "") -> None:
    """Run work after ack; its failure is reported like any other."""

    async def run() -> None:
        try:
            await coro
        except Exception as e:  # noqa: BLE001
            await report(client, body, e, response_url=response_url)

    task = asyncio.get_running_loop().create_task(run())
    deps.tasks.add(task)
    task.add_done_callback(deps.tasks.discard)
