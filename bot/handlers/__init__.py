"""Slack listeners, one module per area. Each module exposes `register(app, deps)`."""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.replies import report

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]

# Listeners still working after their ack (Bolt runs them on after answering Slack); a shutdown waits
# for them before closing Redis.
_running: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()


async def drain(timeout: float) -> int:  # noqa: ASYNC109
    """Wait up to `timeout` s for listeners in flight; how many were still running when it gave up."""
    tasks = [t for t in _running if not t.done() and t is not asyncio.current_task()]
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    return len(pending)


def guarded(fn: Callable[[Any, dict[str, Any], AsyncWebClient], Awaitable[None]]) -> Listener:
    """Wrap a listener so every failure reaches the person through the one error handler."""

    @functools.wraps(fn)
    async def listener(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        task = asyncio.current_task()
        if task is not None:
            _running.add(task)
        logs.bind(user=str((body.get("user") or {}).get("id") or body.get("user_id") or ""))
        try:
            await fn(ack, body, client)
        except Exception as e:  # noqa: BLE001 - this is the single place errors are reported
            if getattr(ack, "response", None) is None:
                await ack()  # Slack must still hear back within 3 seconds
            await report(client, body, e)

    return listener


def form_value(view: dict[str, Any], block: str) -> str:
    """What a person entered in an input block of a submitted modal (text or selected option), stripped."""
    element = (view.get("state", {}).get("values", {}).get(block) or {}).get("value") or {}
    if element.get("type") == "static_select":
        return str((element.get("selected_option") or {}).get("value") or "")
    return str(element.get("value") or "").strip()
