"""Paging people through PagerDuty, and hearing back.

Out: every event for PagerDuty (trigger, acknowledge, resolve) is a scheduled item in `keys.pages`, queued in
the same atomic step that decided it (an escalation's first CONFIRM, `/incident page`, an acknowledgement in
Slack, the resolve) and sent here by whichever replica claims it. The dedup key makes a repeated event
harmless, so a failed send is simply claimed again after a backoff; a refused one is noted once.

In: a signed webhook saying someone acknowledged (or resolved) a page in PagerDuty marks the escalation
acknowledged, as the Slack button does, and says so in the channel once, however often it is delivered.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import forms, logs, pagerduty, replies
from bot.claims import Claim
from bot.deps import Deps
from bot.errors import BadInput, IncidentGone
from bot.forms import echo
from bot.incident import Event, Incident, pagerduty_actor
from bot.pagerduty import WebhookEvent
from bot.schedule import Due, PageAction
from bot.store import PageRequest
from bot.workflows import escalate

log = logging.getLogger(__name__)

# Backoff after a failed attempt doubles from PAGERDUTY_RETRY_SECONDS up to this.
MAX_BACKOFF_MS = 60_000
# An acknowledge or resolve looks again this soon when the role's earlier event is still on its way.
ORDER_WAIT_MS = 500
ACKNOWLEDGED, RESOLVED = "incident.acknowledged", "incident.resolved"


def backoff_ms(first_s: float, attempt: int) -> int:
    return int(min(MAX_BACKOFF_MS, first_s * 1000 * 2 ** (attempt - 1)))


async def send(deps: Deps, due: Due, claim: Claim) -> None:
    """Send one claimed event to PagerDuty and record how it went."""
    store, action, role = deps.store, due.action, due.role
    assert action is not None
    try:
        incident = await store.get(due.incident_id)
    except IncidentGone:
        await store.finish(due)
        return
    logs.bind(incident=incident.id, playbook=incident.playbook)
    pages = await store.pages(incident.id)
    key, entry = pages.keys.get(role), deps.settings.roster.get(role)
    if key is None or entry is None or entry.pagerduty is None:  # ROSTER changed since it was queued
        await _failed(deps, incident, due, claim, "there is no PagerDuty routing key for it in ROSTER any more")
        return
    # PagerDuty must hear a trigger before its acknowledge, and both before the resolve.
    if await store.any_queued([Due.page(incident.id, earlier, role) for earlier in action.earlier]):
        await store.retry_later(due, claim, ORDER_WAIT_MS, counted=False)
        return
    if action == PageAction.TRIGGER:
        event = pagerduty.trigger_event(incident, deps.book(incident.playbook), key, role, pages.reasons.get(role, ""))
    else:
        event = pagerduty.follow_up_event(action, key)
    answer = await pagerduty.send(deps.settings.pagerduty_events_url, entry.pagerduty, event)
    if answer.outcome == pagerduty.Outcome.OK:
        await store.page_done(due, claim, Event(type="pagerduty_sent", actor="bot", at=claim.now_ms,
                                                id=_event_id(due, claim, "sent"),
                                                data={"action": action, "role": role}))
        return
    if answer.retry and claim.attempt < deps.settings.pagerduty_max_attempts:
        log.warning("PagerDuty did not take the %s for %s (attempt %d): %s; trying again", action, role,
                    claim.attempt, answer.reason)
        await store.retry_later(due, claim, backoff_ms(deps.settings.pagerduty_retry_seconds, claim.attempt))
        return
    await _failed(deps, incident, due, claim,
                  replies.gave_up(answer.reason, claim.attempt) if answer.retry else answer.reason)


def _event_id(due: Due, claim: Claim, outcome: str) -> str:
    """The same for every attempt at one queued event (its first due time), new for the next one queued."""
    return f"{due.member}:{claim.due_ms}:{outcome}"


async def _failed(deps: Deps, incident: Incident, due: Due, claim: Claim, why: str) -> None:
    """The event will never reach PagerDuty: drop it, and say so once in the log, the timeline and the channel."""
    action = str(due.action)
    event = Event(type="pagerduty_failed", actor="bot", at=claim.now_ms, id=_event_id(due, claim, "failed"),
                  data={"action": action, "role": due.role, "error": why})
    if not await deps.store.page_done(due, claim, event):
        return
    log.error("PagerDuty did not take the %s for %s: %s", action, due.role, why)
    if incident.channel_id:
        await deps.client.chat_postMessage(channel=incident.channel_id,
                                           text=replies.page_failed(action, due.role, why))


async def request(deps: Deps, incident: Incident, user: str, text: str) -> None:
    """`/incident page <role> [message]`: page a roster role now."""
    word, _, rest = text.strip().partition(" ")
    role, roles = word.lower(), deps.settings.pagerduty_roles
    if not role:
        raise BadInput(replies.page_usage(roles))
    entry = deps.settings.roster.get(role)
    if entry is None:
        raise BadInput(replies.not_a_role(echo(word), roles))
    if not entry.pageable:
        raise BadInput(replies.no_routing_key(role, roles))
    try:
        message = forms.page_message(rest)
    except ValueError as e:
        raise BadInput(replies.bad_page_message(str(e))) from None
    page = PageRequest(role, pagerduty.dedup_key(incident, role), message or replies.PAGED_FROM_SLACK)
    event = Event(type="page_requested", actor=user, at=deps.clock(), data={"role": role, "message": message})
    await deps.store.request_page(incident.id, page, event)
    await deps.client.chat_postMessage(channel=incident.channel_id, text=replies.page_requested(user, role, message))


async def heard(deps: Deps, event: WebhookEvent) -> str:
    """A signed webhook delivery: "noted", "duplicate" (delivered before) or "ignored" (not about a page the
    bot sent, or not news)."""
    key = event.incident_key
    target = await deps.store.page_target(key) if key and event.event_type in (ACKNOWLEDGED, RESOLVED) else None
    if target is None:
        return "ignored"
    incident_id, role = target
    incident = await deps.store.get(incident_id)
    logs.bind(incident=incident.id, playbook=incident.playbook)
    name = event.agent_name
    if event.event_type == ACKNOWLEDGED:
        if role in (await deps.store.pages(incident_id)).ack_sent:
            return "ignored"  # the bot's own acknowledgement, made in Slack, coming back
        note = Event(type="pagerduty_acknowledged", actor=pagerduty_actor(name), at=deps.clock(),
                     id=f"pd:{event.id}", data={"role": role, "name": name})
        if not await _acknowledged(deps, incident, role, note):
            return "duplicate"
        text = replies.acknowledged_in_pagerduty(name, role)
    else:
        if not incident.is_open:
            return "ignored"  # resolved in Slack first: the bot's own resolve coming back
        note = Event(type="pagerduty_resolved", actor=pagerduty_actor(name), at=deps.clock(), id=f"pd:{event.id}",
                     data={"role": role, "name": name})
        if not await deps.store.note_once(incident_id, note):
            return "duplicate"
        text = replies.resolved_in_pagerduty(name, role)
    try:
        await deps.client.chat_postMessage(channel=incident.channel_id, text=text)
    except SlackApiError as e:  # recorded on the timeline; the ping is redrawn by the sweep
        log.warning("could not tell the channel about PagerDuty's %s: %s", event.event_type, e.response.get("error"))
    return "noted"


async def _acknowledged(deps: Deps, incident: Incident, role: str, note: Event) -> bool:
    """Someone acknowledged `role`'s page in PagerDuty: each sent escalation level naming the role is
    acknowledged, as with the Slack button, and PagerDuty stops paging the level's other roles. False when
    this delivery was seen before."""
    book = deps.book(incident.playbook)
    levels = [i for i, level in enumerate(book.meta.escalation) if role in level.notify] if book else []
    others = {r for i in levels for r in book.meta.escalation[i].notify} - {role} if book else set()
    outcome = await escalate.record_acknowledgement(
        deps, incident, levels, note, page_roles=pagerduty.pageable(deps.settings.roster, sorted(others)), note=True)
    return outcome.status != "dup"
