"""The phased checklist: checking a step off (or undoing it) and completing a phase."""

from __future__ import annotations

import asyncio

from bot import metrics, parts, replies
from bot.deps import Deps
from bot.errors import BadInput
from bot.incident import Event, Incident
from bot.playbook import Playbook
from bot.sync import post, sync


async def check_step(deps: Deps, book: Playbook, incident_id: str, phase: int, step: int, done: bool,
                     user: str) -> None:
    """Mark a step of the current phase done (or not done any more)."""
    event = Event(type="step_done" if done else "step_undone", actor=user, at=deps.clock(),
                  data={"phase": phase, "step": step, "text": book.phases[phase].steps[step].text})
    outcome = await deps.store.step(incident_id, phase, step, done, event)
    if outcome.status == "stale_phase":
        raise BadInput(replies.PHASE_CLOSED)
    first_response = outcome.acknowledged_after_ms is not None
    if outcome.acknowledged_after_ms is not None:
        metrics.TIME_TO_ACKNOWLEDGE.labels(playbook=book.key).observe(outcome.acknowledged_after_ms / 1000)
    # "same" too: the message may still show an older state (another replica's failed render). The first
    # step done meets the acknowledge target, which the card shows.
    await sync(deps, incident_id, [parts.phase(phase), parts.CARD] if first_response else [parts.phase(phase)])


async def complete_phase(deps: Deps, book: Playbook, incident_id: str, phase: int, user: str) -> None:
    """Close a phase that is not the last: open steps are skipped and the next checklist posted."""
    event = Event(type="phase_completed", actor=user, at=deps.clock(), data={"phase": phase})
    incident = await deps.store.complete_phase(incident_id, phase, len(book.phases[phase].steps), event)
    if incident is None:
        raise BadInput(replies.already_completed(book.phases[phase].title))
    observe_phase(book, incident, phase, event.at)
    observe_first_response(incident, event)
    await asyncio.gather(post(deps, incident, parts.phase(phase + 1), incident.channel_id),
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
