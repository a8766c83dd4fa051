"""What a due item posts: an escalation ping, a phase-window reminder, a missed-target reminder or the RCA
reminder.

Every attempt first looks in the channel for a message whose metadata names the item: an earlier attempt
may have posted it and died before saying so, and after a Redis failover or restart even the record of that
attempt may be gone, so only Slack knows. The one exception is a first attempt whose attempt counter cannot
have lost an earlier one (Claim.surely_first): a replica confirmed its claim (REDIS_WAIT_REPLICAS ≥ 1), or the
server has kept every write since before the item fell due (bot/unbroken.py).
Then the item is recorded (CONFIRM, which also renews the claim's lease and marks the part as being posted)
and posted at once, unless the lease was lost or is too close to running out (bot/claims.py); the script
keeping the ping's ts also finishes the item. An escalation's first CONFIRM also queues a PagerDuty trigger
for each role of its level with a routing key (workflows/page.py sends them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks, metrics, pagerduty, parts, replies
from bot.claims import Claim, loop_time
from bot.deps import Deps
from bot.errors import BadInput
from bot.incident import Event, Incident
from bot.parts import Part
from bot.playbook import TARGET_NAMES, Playbook
from bot.schedule import Due, DueKind, is_late, lateness_ms
from bot.store import Outcome, PageRequest
from bot.sync import POSTING_MS, adopt, find_posted, post, sync

log = logging.getLogger(__name__)

METADATA_TYPE = "incident_escalation"


@dataclass(frozen=True)
class Notice:
    event: Event
    part: Part | None  # a message kept up to date, or None for plain text posted once
    text: str = ""
    need_phase: int | None = None
    set_severity: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # stored with the event, to draw the message later
    redraw: frozenset[Part] = frozenset()  # parts that show the stored fields, drawn again once posted
    pages: list[PageRequest] = field(default_factory=list)  # roles paged through PagerDuty with it


def notice_for(deps: Deps, due: Due, claim: Claim, incident: Incident, book: Playbook | None) -> Notice | None:
    """What to post for `due`, or None when there is nothing to post (playbook changed, no channel)."""
    event_id = f"esc:{claim.member}"
    if not incident.channel_id:
        return None
    if due.kind == DueKind.RCA:
        return Notice(Event(type="rca_overdue", actor="bot", at=claim.now_ms, id=event_id,
                            data={"commander": incident.commander}), parts.RCA_REMINDER)
    if book is None:
        return None
    if due.kind == DueKind.PHASE:
        if due.index >= len(book.phases):
            return None
        return Notice(Event(type="phase_overdue", actor="bot", at=claim.now_ms, id=event_id,
                            data={"phase": due.index}), None, text=blocks.phase_overdue(incident, book, due.index),
                      need_phase=due.index)
    if due.kind == DueKind.TARGET:
        targets = book.meta.targets
        seconds = targets.seconds(due.index) if due.index < len(TARGET_NAMES) else None
        if seconds is None:
            return None
        event = Event(type="target_missed", actor="bot", at=claim.now_ms, id=event_id,
                      data={"target": TARGET_NAMES[due.index], "after": seconds, "notify": targets.notify})
        return Notice(event, None, text=blocks.target_missed(incident, book, due.index, deps.settings.roster),
                      fields={f"target_at:{due.index}": str(claim.now_ms)}, redraw=frozenset({parts.CARD}))
    if due.index >= len(book.meta.escalation):
        return None
    level = book.meta.escalation[due.index]
    late_after_ms = int(deps.settings.late_after_seconds * 1000)
    late_ms = lateness_ms(claim.due_ms, claim.now_ms) if is_late(claim.due_ms, claim.now_ms, late_after_ms) else 0
    pages = pagerduty.page_requests(deps.settings.roster, incident, level.notify, level.message)
    event = Event(type="escalated", actor="bot", at=claim.now_ms, id=event_id,
                  data={"level": due.index, "message": level.message, "notify": level.notify,
                        "late": bool(late_ms), "late_ms": late_ms, "paged": [p.role for p in pages]})
    return Notice(event, parts.ping(due.index), set_severity=level.set_severity,
                  fields={f"ping_at:{due.index}": str(claim.now_ms), f"ping_late:{due.index}": str(late_ms),
                          f"ping_severity:{due.index}": incident.severity,
                          f"ping_phase:{due.index}": str(incident.phase)},
                  pages=pages)


async def send(deps: Deps, due: Due, claim: Claim, incident: Incident | None = None) -> None:
    """Post a claimed item once; `incident` when the scheduler read it already (with the rest of its batch)."""
    store = deps.store
    incident = incident or await store.get(due.incident_id)
    notice = notice_for(deps, due, claim, incident, deps.book(incident.playbook))
    if notice is None:
        await store.finish(due)
        return
    earlier = await _posted_before(deps, incident, claim)
    redraw = set(notice.redraw) | (set(parts.HEADLINE) if notice.set_severity else set())
    if earlier:
        # Posted by an attempt that died before finishing: keep that message, finish what it left undone.
        if notice.part is not None:
            await adopt(deps, incident.id, notice.part, earlier, done=due)
        else:
            await store.finish(due)
    else:
        confirmed = await store.confirm(due, claim, notice.event, need_phase=notice.need_phase,
                                        set_severity=notice.set_severity, fields=notice.fields, pages=notice.pages,
                                        part=notice.part.key if notice.part else "", posting_ms=POSTING_MS)
        if confirmed is None:
            return
        if not claim.lease.safe_to_post(loop_time()):
            # Stalled since the confirm (or the lease was lost): another replica may take the item before
            # this post reaches Slack. Hand it back; the next attempt looks for a post first, as always.
            log.warning("not posting %s: its lease is about to run out", claim.member)
            await store.release(due, claim)
            return
        metadata: dict[str, Any] = {"event_type": METADATA_TYPE, "event_payload": {"id": claim.member}}
        # No client-side retries: a retried post could land twice; the next attempt checks Slack first.
        if notice.part is not None:
            # The confirm marked the part as being posted; the script keeping its ts finishes the item.
            await post(deps, confirmed, notice.part, confirmed.channel_id, metadata, client=deps.once_client,
                       marked=True, done=due)
        else:
            await deps.once_client.chat_postMessage(channel=confirmed.channel_id, text=notice.text,
                                                    metadata=metadata)
            await store.finish(due)
    if due.kind == DueKind.ESCALATION:
        metrics.ESCALATIONS_SENT.labels(playbook=incident.playbook, level=str(due.index + 1)).inc()
        metrics.ESCALATION_LATENESS.observe(max(0, claim.now_ms - claim.due_ms) / 1000)
    if redraw:
        await sync(deps, incident.id, redraw)


async def _posted_before(deps: Deps, incident: Incident, claim: Claim) -> str:
    if claim.surely_first:
        # A later claimant would count 2 and look, so this cannot be a repeat: Slack's history (Tier 3, about
        # 50 calls a minute) is not read.
        return ""
    try:
        return await find_posted(deps, incident.channel_id, claim.due_ms, METADATA_TYPE, claim.member)
    except SlackApiError as e:
        if claim.attempt > 1 or e.response.get("error") != "missing_scope":
            raise
        # Redis says no attempt came before, so only lost Redis writes (a failover) could make this a repeat.
        log.warning("cannot read the history of %s to look for an earlier post (add the channels:history and "
                    "groups:history scopes); posting %s", incident.channel_id, claim.member)
        return ""


async def acknowledge(deps: Deps, incident: Incident, book: Playbook, level: int, user: str) -> bool:
    """Someone picked up the ping of `level` in Slack; False when someone already had. PagerDuty is told for
    the level's roles it paged."""
    event = Event(type="escalation_acknowledged", actor=user, at=deps.clock(), id=f"ack:{incident.id}:{level}",
                  data={"level": level})
    page_roles = pagerduty.pageable(deps.settings.roster, book.meta.escalation[level].notify)
    outcome = await record_acknowledgement(deps, incident, [level], event, page_roles=page_roles)
    if outcome.status == "not_sent":
        raise BadInput(replies.ACK_NOT_SENT)
    return outcome.status == "ok"


async def record_acknowledgement(deps: Deps, incident: Incident, levels: list[int], event: Event, *,
                                 page_roles: list[str] | None = None, note: bool = False) -> Outcome:
    """Mark the sent `levels` acknowledged (store.acknowledge), count the first response, redraw their pings."""
    outcome = await deps.store.acknowledge(incident.id, levels, event, page_roles=page_roles, note=note,
                                           redraw=[parts.ping(level) for level in levels] + [parts.CARD])
    if outcome.acknowledged_after_ms is not None:
        metrics.TIME_TO_ACKNOWLEDGE.labels(playbook=incident.playbook).observe(outcome.acknowledged_after_ms / 1000)
    if outcome.levels:
        # The card too: an acknowledged ping may be the first response, which meets the acknowledge target.
        await sync(deps, incident.id, [parts.ping(level) for level in outcome.levels] + [parts.CARD])
    return outcome
