"""`/incident …`: help, declare, and the commands used inside an incident channel."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, replies
from bot.deps import Deps
from bot.errors import BadInput, NotAnIncidentChannel
from bot.handlers import guarded
from bot.handlers.declare import open_modal
from bot.handlers.resolve import open_resolve_modal
from bot.handlers.status import rca_command, status_command
from bot.incident import Incident
from bot.replies import tell
from bot.timeline_view import timeline_blocks
from bot.workflows import details

_MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$")

InChannel = Callable[[Deps, AsyncWebClient, dict[str, Any], Incident, str], Awaitable[None]]


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/incident")
    @guarded
    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        text = (body.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in ("", "help"):
            await ack(text=blocks.help_text(deps.playbooks))
            return
        book = deps.book(word)
        if book is not None:
            await ack()
            await open_modal(client, body, book, rest)
            return
        handler = _IN_CHANNEL.get(word)
        if handler is None:
            await ack(text=replies.unknown_command(word) + "\n\n" + blocks.help_text(deps.playbooks))
            return
        await ack()
        incident_id = await deps.store.incident_for_channel(body.get("channel_id", ""))
        if incident_id is None:
            raise NotAnIncidentChannel()
        await handler(deps, client, body, await deps.store.get(incident_id), rest)


async def _note(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    await details.note(deps, incident, body["user_id"], text)


async def _severity(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    await details.set_severity(deps, incident, body["user_id"], text)


async def _commander(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                     text: str) -> None:
    m = _MENTION.match(text)
    if text.lower() == "me":
        target = body["user_id"]
    elif m:
        target = m.group(1)
    else:
        raise BadInput(replies.COMMANDER_USAGE)
    await details.set_commander(deps, incident, body["user_id"], target)


async def _timeline(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    events = [ev async for ev in deps.store.iter_timeline(incident.id)]
    await tell(client, body, f"{incident.name} timeline",
               blocks=timeline_blocks(incident, deps.book(incident.playbook), events))


async def _resolve(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    await open_resolve_modal(deps, client, body, incident.id)


_IN_CHANNEL: dict[str, InChannel] = {
    "note": _note,
    "sev": _severity,
    "severity": _severity,
    "commander": _commander,
    "timeline": _timeline,
    "resolve": _resolve,
    "status": status_command,
    "rca": rca_command,
}
