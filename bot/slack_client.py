"""The Slack Web API client every part of the bot shares."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings


def make_client(settings: Settings) -> AsyncWebClient:
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    client.retry_handlers.extend([AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                                  AsyncServerErrorRetryHandler(max_retry_count=2)])
    return client
