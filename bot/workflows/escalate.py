"""What a due item posts: an escalation ping, a phase-window reminder or the RCA reminder.

Each is recorded (CONFIRM) just before it is posted, with message metadata naming the item, so a retry
after a crash can find the earlier post instead of posting twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot import blocks, metrics, parts, replies
from bot.deps import Deps
from bot.errors import BadInput
from bot.incident import Event, Incident
from bot.parts import Part
from bot.playbook import Playbook
from bot.schedule import Due, DueKind, is_late, lateness_ms
from bot.store import Claim
from bot.sync import find_posted, post, sync

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
    if due.index >= len(book.meta.escalation):
        return None
    level = book.meta.escalation[due.index]
    late_after_ms = int(deps.settings.late_after_seconds * 1000)
    late_ms = lateness_ms(claim.due_ms, claim.now_ms) if is_late(claim.due_ms, claim.now_ms, late_after_ms) else 0
    event = Event(type="escalated", actor="bot", at=claim.now_ms, id=event_id,
                  data={"level": due.index, "message": level.message, "notify": level.notify,
                        "late": bool(late_ms), "late_ms": late_ms})
    return Notice(event, parts.ping(due.index), set_severity=level.set_severity,
                  fields={f"ping_at:{due.index}": str(claim.now_ms), f"ping_late:{due.index}": str(late_ms)})


async def send(deps: Deps, due: Due, claim: Claim) -> None:
    store = deps.store
    incident = await store.get(due.incident_id)
    notice = notice_for(deps, due, claim, incident, deps.book(incident.playbook))
    if notice is None or (claim.attempt > 1 and await find_posted(deps, incident.channel_id, claim.due_ms,
                                                                   METADATA_TYPE, claim.member)):
        await store.finish(due)
        return
    confirmed = await store.confirm(due, claim, notice.event, need_phase=notice.need_phase,
                                    set_severity=notice.set_severity, fields=notice.fields)
    if confirmed is None:
        return
    metadata: dict[str, Any] = {"event_type": METADATA_TYPE, "event_payload": {"id": claim.member}}
    if notice.part is not None:
        await post(deps, confirmed, notice.part, confirmed.channel_id, metadata)
    else:
        await deps.client.chat_postMessage(channel=confirmed.channel_id, text=notice.text, metadata=metadata)
    await store.finish(due)
    if due.kind == DueKind.ESCALATION:
        metrics.ESCALATIONS_SENT.labels(playbook=incident.playbook, level=str(due.index + 1)).inc()
        metrics.ESCALATION_LATENESS.observe(max(0, claim.now_ms - claim.due_ms) / 1000)
    if confirmed.severity != incident.severity:
        await sync(deps, incident.id, parts.HEADLINE)


async def acknowledge(deps: Deps, incident_id: str, level: int, user: str) -> bool:
    """Someone picked up the ping of `level`; False when someone already had."""
    event = Event(type="escalation_acknowledged", actor=user, at=deps.clock(), id=f"ack:{incident_id}:{level}",
                  data={"level": level})
    outcome = await deps.store.acknowledge(incident_id, level, event)
    if outcome.status == "not_sent":
        raise BadInput(replies.ACK_NOT_SENT)
    if outcome.acknowledged_after_ms is not None:
        incident = await deps.store.get(incident_id)
        metrics.TIME_TO_ACKNOWLEDGE.labels(playbook=incident.playbook).observe(outcome.acknowledged_after_ms / 1000)
    await sync(deps, incident_id, [parts.ping(level)])
    return outcome.status == "ok"
