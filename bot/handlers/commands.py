"""`/incident …`: help, declare, and the commands used inside an incident channel."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, render
from bot.deps import Deps
from bot.errors import BadInput, IncidentGone, NotAnIncidentChannel
from bot.handlers import guarded
from bot.handlers.declare import open_modal
from bot.handlers.resolve import open_resolve_modal
from bot.handlers.status import rca_command, status_command
from bot.incident import Event, Incident
from bot.mrkdwn import escape
from bot.playbook import SEVERITIES, Playbook
from bot.replies import tell

_MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$")
MAX_NOTE = 3000


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
            await ack(text=f"`{escape(word)}` is not a playbook or a command.\n\n" + blocks.help_text(deps.playbooks))
            return
        await ack()
        incident = await _incident_here(deps, body)
        await handler(deps, client, body, incident, rest)


async def _incident_here(deps: Deps, body: dict[str, Any]) -> Incident:
    incident_id = await deps.store.incident_for_channel(body.get("channel_id", ""))
    if incident_id is None:
        raise NotAnIncidentChannel()
    return await deps.store.get(incident_id)


def _book(deps: Deps, incident: Incident) -> Playbook:
    book = deps.book(incident.playbook)
    if book is None:
        raise IncidentGone()
    return book


async def _note(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    if not text:
        raise BadInput("Write the note after the command: `/incident note Rolled back api to v1.4.2`.")
    if len(text) > MAX_NOTE:
        raise BadInput(f"That note is {len(text)} characters; keep it under {MAX_NOTE}.")
    user = body["user_id"]
    event = Event(type="note", actor=user, at=deps.clock(), data={"text": text})
    await deps.store.add_event(incident.id, event)
    # Echo it, so the channel and the timeline tell the same story.
    await client.chat_postMessage(channel=incident.channel_id, text=f"📝 <@{user}> noted: {escape(text)}")


async def _severity(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    new = text.upper()
    if new not in SEVERITIES:
        raise BadInput(f"Severity must be one of {', '.join(SEVERITIES)}, e.g. `/incident sev P1`.")
    user = body["user_id"]
    event = Event(type="severity_changed", actor=user, at=deps.clock(),
                  data={"from": incident.severity, "to": new})
    changed, updated = await deps.store.set_fields(incident.id, {"severity": new}, event, require_open=True)
    if not changed:
        raise BadInput(f"{incident.name} is already {new}.")
    book = _book(deps, updated)
    await asyncio.gather(
        render.refresh(client, deps.store, book, incident.id, "card"),
        client.conversations_setTopic(channel=incident.channel_id, topic=blocks.topic(updated, book)),
        client.chat_postMessage(channel=incident.channel_id,
                                text=f"Severity changed {incident.severity} → *{new}* by <@{user}>."),
    )


async def _commander(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                     text: str) -> None:
    user = body["user_id"]
    m = _MENTION.match(text)
    if text.lower() == "me":
        target = user
    elif m:
        target = m.group(1)
    else:
        raise BadInput("Mention the new commander: `/incident commander @name` (or `me`).")
    event = Event(type="commander_changed", actor=user, at=deps.clock(),
                  data={"from": incident.commander, "to": target})
    changed, updated = await deps.store.set_fields(incident.id, {"commander": target}, event, require_open=True)
    if not changed:
        raise BadInput(f"<@{target}> is already the incident commander.")
    book = _book(deps, updated)
    await asyncio.gather(
        render.refresh(client, deps.store, book, incident.id, "card"),
        client.chat_postMessage(channel=incident.channel_id,
                                text=f"<@{target}> is now incident commander (set by <@{user}>)."),
    )


async def _timeline(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                    text: str) -> None:
    events = [ev async for ev in deps.store.iter_timeline(incident.id)]
    await tell(client, body, f"{incident.name} timeline",
               blocks=blocks.timeline_blocks(incident, deps.book(incident.playbook), events))


async def _resolve(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident, text: str) -> None:
    await open_resolve_modal(deps, client, body, incident.id)


_IN_CHANNEL = {
    "note": _note,
    "sev": _severity,
    "severity": _severity,
    "commander": _commander,
    "timeline": _timeline,
    "resolve": _resolve,
    "status": status_command,
    "rca": rca_command,
}
