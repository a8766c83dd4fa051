"""Changing an incident's details from its channel: a note, the severity, the commander."""

from __future__ import annotations

from bot import forms, parts, replies
from bot.deps import Deps
from bot.errors import BadInput
from bot.incident import Event, Incident
from bot.playbook import SEVERITIES
from bot.sync import sync


async def note(deps: Deps, incident: Incident, user: str, text: str) -> None:
    if not text:
        raise BadInput(replies.NOTE_USAGE)
    try:
        text = forms.note_text(text)
    except ValueError as e:
        raise BadInput(replies.bad_note(str(e))) from None
    await deps.store.add_event(incident.id, Event(type="note", actor=user, at=deps.clock(), data={"text": text}))
    # Echo it, so the channel and the timeline tell the same story.
    await deps.client.chat_postMessage(channel=incident.channel_id, text=replies.noted(user, text))


async def set_severity(deps: Deps, incident: Incident, user: str, severity: str) -> None:
    new = severity.upper()
    if new not in SEVERITIES:
        raise BadInput(replies.bad_severity(list(SEVERITIES)))
    event = Event(type="severity_changed", actor=user, at=deps.clock(), data={"from": incident.severity, "to": new})
    changed, _ = await deps.store.set_fields(incident.id, {"severity": new}, event, require_open=True,
                                             redraw=parts.HEADLINE)
    if not changed:
        raise BadInput(replies.already_severity(incident.name, new))
    await sync(deps, incident.id, parts.HEADLINE)
    await deps.client.chat_postMessage(channel=incident.channel_id,
                                       text=replies.severity_changed(incident.severity, new, user))


async def set_commander(deps: Deps, incident: Incident, user: str, commander: str) -> None:
    event = Event(type="commander_changed", actor=user, at=deps.clock(),
                  data={"from": incident.commander, "to": commander})
    changed, _ = await deps.store.set_fields(incident.id, {"commander": commander}, event, require_open=True,
                                             redraw=[parts.CARD])
    if not changed:
        raise BadInput(replies.already_commander(commander))
    await sync(deps, incident.id, [parts.CARD])
    await deps.client.chat_postMessage(channel=incident.channel_id, text=replies.commander_changed(commander, user))
