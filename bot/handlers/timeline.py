"""The "Add to timeline" message shortcut and the escalation Acknowledge button."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import replies
from bot.deps import Deps
from bot.errors import BadInput
from bot.handlers import guarded, incident_here, user_of
from bot.ids import Action, Callback, EscalationRef
from bot.incident import Event
from bot.replies import tell
from bot.workflows import escalate


def register(app: AsyncApp, deps: Deps) -> None:
    @app.shortcut(Callback.ADD_TO_TIMELINE)
    @guarded
    async def on_add(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel = body["channel"]["id"]
        incident_id = (await incident_here(deps, body)).id
        message = body["message"]
        link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
        # The event id is the message: adding the same message twice keeps one entry.
        event = Event(type="message_added", actor=user_of(body), at=deps.clock(),
                      id=f"msg:{channel}:{message['ts']}",
                      data={"text": message.get("text", ""), "author": message.get("user", ""),
                            "ts": message["ts"], "permalink": link["permalink"]})
        await deps.store.add_event(incident_id, event)
        await tell(client, body, replies.ADDED_TO_TIMELINE)

    @app.action(re.compile(rf"^{Action.ACK_ESCALATION}:"))
    @guarded
    async def on_ack(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = EscalationRef.model_validate_json(body["actions"][0]["value"])
        incident = await incident_here(deps, body, ref.i)
        book = deps.book(incident.playbook)
        if book is None or not 0 <= ref.level < len(book.meta.escalation):
            raise BadInput(replies.OTHER_INCIDENT)
        if not await escalate.acknowledge(deps, incident, book, ref.level, user_of(body)):
            await tell(client, body, replies.ACK_ALREADY)
