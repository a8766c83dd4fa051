"""`/incident …`: help, declare, and the commands used inside an incident channel."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, replies
from bot.deps import Deps
from bot.errors import BadInput
from bot.forms import USER_ID, echo
from bot.handlers import incident_here, modal_listener, user_of
from bot.handlers.declare import open_modal
from bot.handlers.resolve import resolve_command
from bot.handlers.status import rca_command, status_command
from bot.incident import Incident
from bot.mrkdwn import typed
from bot.replies import tell
from bot.timeline_view import timeline_blocks
from bot.workflows import details, page

_MENTION = re.compile(r"^<@([^|>]+)(?:\|[^>]*)?>$")

InChannel = Callable[[Deps, AsyncWebClient, dict[str, Any], Incident, str], Awaitable[None]]
# Commands whose modal needs the incident: they open it before reading anything (see open_first).
OpensModal = Callable[[Deps, AsyncWebClient, dict[str, Any], str], Awaitable[None]]


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/incident")
    @modal_listener
    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        text = (body.get("text") or "").strip()
        word, _, raw = text.partition(" ")
        # Slack escapes what was typed; only `commander` reads a mention's user id from Slack's markup.
        word, raw = word.lower(), raw.strip()
        rest = raw if word in _READS_MARKUP else typed(raw)
        if word in ("", "help"):
            await ack(text=blocks.help_text(deps.playbooks))
            return
        book = deps.book(word)
        if book is not None:
            await ack()
            await open_modal(deps, client, body, book, rest)
            return
        opener = _OPENS_MODAL.get(word)
        if opener is not None:
            await ack()
            await opener(deps, client, body, rest)
            return
        handler = _IN_CHANNEL.get(word)
        if handler is None:
            await ack(text=replies.unknown_command(echo(word)) + "\n\n" + blocks.help_text(deps.playbooks))
            return
        await ack()
        await handler(deps, client, body, await incident_here(deps, body), rest)


async def _note(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    await details.note(deps, incident, user_of(body), text)


async def _severity(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    await details.set_severity(deps, incident, user_of(body), text)


async def _commander(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                     text: str) -> None:
    m = _MENTION.match(text)
    if text.lower() == "me":
        target = user_of(body)
    elif m and USER_ID.match(m.group(1)):
        target = m.group(1)
        try:
            await client.users_info(user=target)
        except SlackApiError as e:
            raise BadInput(replies.no_such_user(target, str(e.response.get("error")))) from None
    else:
        raise BadInput(replies.COMMANDER_USAGE)
    await details.set_commander(deps, incident, user_of(body), target)


async def _timeline(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    events = [ev async for ev in deps.store.iter_timeline(incident.id)]
    await tell(client, body, f"{incident.name} timeline",
               blocks=timeline_blocks(incident, deps.book(incident.playbook), events))


async def _page(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    await page.request(deps, incident, user_of(body), text)


_IN_CHANNEL: dict[str, InChannel] = {
    "note": _note,
    "sev": _severity,
    "severity": _severity,
    "commander": _commander,
    "timeline": _timeline,
    "page": _page,
    "rca": rca_command,
}
_READS_MARKUP = frozenset({"commander"})
_OPENS_MODAL: dict[str, OpensModal] = {"resolve": resolve_command, "status": status_command}
