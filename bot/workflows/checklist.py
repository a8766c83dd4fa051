"""The phased checklist: checking a step off (or undoing it) and completing a phase."""

from __future__ import annotations

import asyncio

from bot import metrics, parts, replies
from bot.deps import Deps
from bot.errors import BadInput, NotAnIncidentChannel
from bot.ids import StepRef
from bot.incident import Event, Incident
from bot.playbook import Playbook
from bot.store import new_token
from bot.sync import POSTING_MS, draw_held, post, sync


async def click_step(deps: Deps, book: Playbook, ref: StepRef, channel: str, user: str) -> None:
    """A Done/Undo button clicked in `channel`: checked against the channel's incident, changed, and the phase
    message's lock taken in one script; then the message drawn (one chat.update) and let go."""
    part, token = parts.phase(ref.p), new_token()
    done = ref.a == "done"
    event = Event(type="step_done" if done else "step_undone", actor=user, at=deps.clock(),
                  data={"phase": ref.p, "step": ref.s, "text": book.phases[ref.p].steps[ref.s].text})
    outcome, drawing = await deps.store.click_step(ref.i, channel, book.key, ref.p, ref.s, done, event, part.key,
                                                   part.member(ref.i), token)
    if outcome.status == "not_incident":
        raise NotAnIncidentChannel()
    if outcome.status == "other":
        raise BadInput(replies.OTHER_INCIDENT)
    if outcome.status == "stale_phase":
        raise BadInput(replies.PHASE_CLOSED)
    if outcome.acknowledged_after_ms is None:
        await draw_held(deps, ref.i, part, token, drawing)
        return
    metrics.TIME_TO_ACKNOWLEDGE.labels(playbook=book.key).observe(outcome.acknowledged_after_ms / 1000)
    # The first step done meets the acknowledge target, which the card shows.
    await asyncio.gather(draw_held(deps, ref.i, part, token, drawing), sync(deps, ref.i, [parts.CARD]))


async def complete_phase(deps: Deps, book: Playbook, incident_id: str, phase: int, user: str) -> None:
    """Close a phase that is not the last: open steps are skipped and the next checklist posted."""
    event = Event(type="phase_completed", actor=user, at=deps.clock(), data={"phase": phase})
    incident = await deps.store.complete_phase(incident_id, phase, len(book.phases[phase].steps), event,
                                               redraw={parts.phase(phase)} | parts.HEADLINE,
                                               post_next=parts.phase(phase + 1), posting_ms=POSTING_MS)
    if incident is None:
        raise BadInput(replies.already_completed(book.phases[phase].title))
    observe_phase(book, incident, phase, event.at)
    observe_first_response(incident, event)
    await asyncio.gather(post(deps, incident, parts.phase(phase + 1), incident.channel_id, marked=True),
                         sync(deps, incident_id, {parts.phase(phase)} | parts.HEADLINE))


def observe_first_response(incident: Incident, event: Event) -> None:
    """Count the time to acknowledge when `event` (a phase completed, a resolve) was the incident's first
    response: the script that stored it records the first responder and when."""
    if incident.acknowledged_at == event.at and incident.acknowledged_by == event.actor:
        metrics.TIME_TO_ACKNOWLEDGE.labels(playbook=incident.playbook).observe(
            max(0, event.at - incident.declared_at) / 1000)


def observe_phase(book: Playbook, incident: Incident, phase: int, ended_ms: int) -> None:
    started = incident.phase_started.get(phase, incident.declared_at)
    metrics.PHASE_DURATION.labels(playbook=book.key, phase=book.phases[phase].name).observe(
        max(0, ended_ms - started) / 1000)
