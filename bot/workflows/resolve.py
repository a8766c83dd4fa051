"""Resolving: close the last phase with cause and resolution, stop everything scheduled, redraw every
part, then the resolved update and the RCA draft."""

from __future__ import annotations

import asyncio

from bot import blocks, metrics, replies
from bot.attempts import attempt_all
from bot.deps import Deps
from bot.errors import BotError, IncidentClosed, IncidentGone, StorageUnavailable
from bot.incident import Event, Incident
from bot.render import all_parts
from bot.schedule import all_members
from bot.sync import sync
from bot.templating import TemplateFailed
from bot.workflows import rca, status
from bot.workflows.checklist import observe_first_response, observe_phase

# How long a resolve waits for an escalation ping already on its way, so the channel reads in order.
INFLIGHT_WAIT_S = 3.0
# The phase may move on between reading it and resolving; read again this many times.
ATTEMPTS = 3


async def resolve(deps: Deps, incident_id: str, user: str, cause: str, resolution: str) -> tuple[Incident, list[str]]:
    """(the resolved incident, what failed afterwards in Slack, in a person's words)."""
    store = deps.store
    for _ in range(ATTEMPTS):
        incident = await store.get(incident_id)
        book = deps.book(incident.playbook)
        if book is None:
            raise IncidentGone()
        if not incident.is_open:
            raise IncidentClosed(incident.name)
        phase = min(incident.phase, len(book.phases) - 1)
        event = Event(type="phase_completed", actor=user, at=deps.clock(), data={"phase": phase})
        resolved = await store.complete_phase(incident_id, phase, len(book.phases[phase].steps), event, last=True,
                                              cause=cause, resolution=resolution,
                                              unschedule=all_members(incident_id, book),
                                              rca_due_ms=event.at + rca.review_window_ms(deps, book),
                                              redraw=all_parts(incident, book))
        if resolved is not None:
            break
    else:
        raise BotError(replies.CHANGED_WHILE_RESOLVING)
    metrics.RESOLVED.labels(playbook=resolved.playbook).inc()
    metrics.TIME_TO_RESOLVE.labels(playbook=resolved.playbook).observe(
        (resolved.resolved_at - resolved.declared_at) / 1000)
    observe_phase(book, resolved, phase, resolved.resolved_at)
    observe_first_response(resolved, event)
    # From here on the incident is resolved for good: a failure only costs Slack messages, each reported.
    await _wait_for_inflight_ping(deps, incident_id)
    jobs = {
        "resolved update and RCA": _resolved_update_and_rca(deps, incident_id, user),
        "resolved message": deps.client.chat_postMessage(channel=resolved.channel_id,
                                                         text=blocks.resolved_message(resolved)),
        "redraw": _redraw(deps, resolved),
    }
    if deps.settings.announce_channel:  # the first announcement is redrawn too; this one notifies
        text, body = blocks.announcement(resolved, book)
        jobs["announce"] = deps.client.chat_postMessage(channel=deps.settings.announce_channel, text=text,
                                                        blocks=body)
    failed = await attempt_all(incident_id, jobs)
    return resolved, list(failed.values())


async def _redraw(deps: Deps, incident: Incident) -> None:
    book = deps.book(incident.playbook)
    if book is not None and not await sync(deps, incident.id, all_parts(incident, book)):
        raise BotError(replies.RETRIED_LATER)


async def _resolved_update_and_rca(deps: Deps, incident_id: str, user: str) -> None:
    """The resolved status update, then the RCA draft, whose timeline therefore includes that update.

    A broken resolved template must not cost the RCA, so its failure is noted and the draft still goes out.
    """
    failures: list[str] = []
    try:
        incident = await deps.store.get(incident_id)
        if incident.private and incident.status_updates == 0:  # nobody in it chose to tell the status channel
            await rca.post(deps, incident)
            return
        update = status.render(deps, incident, status.RESOLVED, now_ms=deps.clock())
        _, failures = await status.publish(deps, incident, update, user, f"status:resolved:{incident_id}")
    except TemplateFailed as e:
        failures.append(e.user_message)
    await rca.post(deps, await deps.store.get(incident_id))
    if failures:
        raise BotError("; ".join(failures))


async def _wait_for_inflight_ping(deps: Deps, incident_id: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + INFLIGHT_WAIT_S
    try:
        while loop.time() < deadline and await deps.store.sending(incident_id):
            await asyncio.sleep(0.05)
    except StorageUnavailable:
        pass  # only the order of messages is at stake
