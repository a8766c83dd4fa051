"""Telling a person something privately, from whatever kind of request they made."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks import error_blocks
from bot.errors import BotError

log = logging.getLogger(__name__)


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str, *, response_url: str = "",
               blocks: list[dict[str, Any]] | None = None) -> None:
    """Ephemeral reply through the response_url when there is one, else a direct message."""
    url = response_url or body.get("response_url") or ""
    if not url:
        urls = body.get("response_urls") or []
        url = urls[0]["response_url"] if urls else ""
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    if url:
        hook = AsyncWebhookClient(url)
        resp = await hook.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        if resp.status_code == 200:
            return
        log.warning("response_url answered %s; falling back to a direct message", resp.status_code)
    if user:
        try:
            await client.chat_postMessage(channel=user, text=text, blocks=blocks)
        except SlackApiError as e:
            log.error("could not tell %s: %s", user, e.response.get("error"))


async def report(client: AsyncWebClient, body: dict[str, Any], error: Exception, *, response_url: str = "") -> None:
    """The one error handler: known failures get their sentence, unknown ones an id to quote."""
    if isinstance(error, BotError):
        message = error.user_message
    elif isinstance(error, SlackApiError):
        ref = uuid.uuid4().hex[:8]
        log.error("slack call failed [%s]: %s", ref, error.response.get("error"))
        message = (f"Slack refused a call ({error.response.get('error')}), so the change may be incomplete. "
                   f"Try again; if it persists, quote error id {ref}.")
    else:
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error [%s]", ref, exc_info=error)
        message = f"Something went wrong on our side. Try again; if it persists, quote error id {ref}."
    await tell(client, body, message, response_url=response_url, blocks=error_blocks(message))
