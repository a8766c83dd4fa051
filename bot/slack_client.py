"""The Slack Web API client every part of the bot shares, counting each call's outcome and duration."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import metrics
from bot.settings import Settings


class MeteredWebClient(AsyncWebClient):
    """Every Web API method goes through `api_call`; the outcome is counted after the client's retries."""

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        started = time.perf_counter()
        outcome = "unreachable"
        try:
            response = await super().api_call(api_method, **kwargs)
            outcome = "ok"
            return response
        except SlackApiError as e:
            outcome = str(e.response.get("error") or "error")
            raise
        finally:
            metrics.SLACK_REQUESTS.labels(method=api_method, outcome=outcome).inc()
            metrics.SLACK_SECONDS.labels(method=api_method).observe(time.perf_counter() - started)


def make_client(settings: Settings, session: aiohttp.ClientSession | None = None, *,
                retries: bool = True) -> AsyncWebClient:
    """With `retries`, 429s, 5xx and dropped connections are retried in the client: right for idempotent
    calls. Without, a failure is raised at once, for posts that must not happen twice (the scheduler
    retries those itself, after looking for the earlier post)."""
    if not retries:
        return MeteredWebClient(token=settings.bot_token, base_url=settings.slack_api_url, session=session,
                                timeout=10, retry_handlers=[])
    client = MeteredWebClient(token=settings.bot_token, base_url=settings.slack_api_url, session=session)
    client.retry_handlers.extend([AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                                  AsyncServerErrorRetryHandler(max_retry_count=2)])
    return client
