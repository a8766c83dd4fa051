"""The "Add to timeline" message shortcut and the escalation Acknowledge button."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import parts, replies
from bot.deps import Deps
from bot.errors import BadInput, NotAnIncidentChannel
from bot.handlers import guarded
from bot.ids import Action, Callback, EscalationRef
from bot.incident import Event
from bot.replies import tell
from bot.sync import sync


def register(app: AsyncApp, deps: Deps) -> None:
    @app.shortcut(Callback.ADD_TO_TIMELINE)
    @guarded
    async def on_add(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel = body["channel"]["id"]
        incident_id = await deps.store.incident_for_channel(channel)
        if incident_id is None:
            raise NotAnIncidentChannel()
        message = body["message"]
        link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
        # The event id is the message: adding the same message twice keeps one entry.
        event = Event(type="message_added", actor=body["user"]["id"], at=deps.clock(),
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
        event = Event(type="escalation_acknowledged", actor=body["user"]["id"], at=deps.clock(),
                      id=f"ack:{ref.i}:{ref.level}", data={"level": ref.level})
        outcome, _ = await deps.store.acknowledge(ref.i, ref.level, event)
        if outcome == "not_sent":
            raise BadInput(replies.ACK_NOT_SENT)
        # The card too: an acknowledged ping may be the first response, which meets the acknowledge target.
        await sync(deps, ref.i, [parts.ping(ref.level), parts.CARD])
        if outcome == "already":
            await tell(client, body, replies.ACK_ALREADY)
