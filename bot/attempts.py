"""Running several independent Slack or Redis jobs together and saying, in a person's words, what failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.errors import BotError

log = logging.getLogger(__name__)


def reason(error: BaseException) -> str:
    """Why a job failed, short: Slack's error code, our own sentence, or the exception's kind."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    if isinstance(error, BotError):
        return error.user_message
    return type(error).__name__


async def attempt_all(incident_id: str, jobs: Mapping[str, Awaitable[Any]]) -> dict[str, str]:
    """Run every job; what failed, as {job name: reason}. One failure never stops the others."""
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    failed = {}
    for name, result in zip(jobs, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("incident %s: %s failed: %r", incident_id, name, result)
            failed[name] = reason(result)
    return failed


def listed(failed: Mapping[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in failed.items())
