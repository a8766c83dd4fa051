"""The Slack Web API client every part of the bot shares, counting each call's outcome and duration."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import metrics
from bot.settings import Settings

# Methods that make something new: a 5xx or a dropped connection may come after Slack did it, so a blind retry
# could make it twice (a second message, a "-2" channel). These are not repeated by the client; the caller
# finds out (the sweep looks in the channel's history before posting again; a declare says what failed).
NOT_REPEATABLE = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "conversations.create",
                            "files.completeUploadExternal", "bookmarks.add", "views.push"})


class _OnlyRepeatable(AsyncRetryHandler):
    """A retry handler for failures after which the call may have taken effect: applied to repeatable methods only.
    (429 is not one of them: Slack did nothing, so every method is retried after Retry-After.)"""

    def __init__(self, inner: AsyncRetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if request.url.rsplit("/", 1)[-1] in NOT_REPEATABLE:
            return False
        return await self.inner.can_retry_async(state=state, request=request, response=response, error=error)


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
    """With `retries`, 429s are retried in the client, and 5xx and dropped connections too for methods that
    are safe to repeat (not NOT_REPEATABLE). Without, a failure is raised at once, for posts the scheduler
    retries itself after looking for the earlier post."""
    if not retries:
        return MeteredWebClient(token=settings.bot_token, base_url=settings.slack_api_url, session=session,
                                timeout=10, retry_handlers=[])
    return MeteredWebClient(token=settings.bot_token, base_url=settings.slack_api_url, session=session, retry_handlers=[
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        _OnlyRepeatable(AsyncConnectionErrorRetryHandler(max_retry_count=1)),
        _OnlyRepeatable(AsyncServerErrorRetryHandler(max_retry_count=2))])
