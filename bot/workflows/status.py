"""Status updates: which one is next, rendering it, and posting it to STATUS_CHANNEL, the incident
channel and (optionally) Atlassian Statuspage."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from bot import blocks
from bot.attempts import attempt_all
from bot.deps import Deps
from bot.durations import format_duration
from bot.incident import Event, Incident
from bot.mrkdwn import escape, unescape
from bot.timefmt import utc
from bot.workflows import statuspage

log = logging.getLogger(__name__)

INITIAL, PROGRESS, RESOLVED = "initial", "progress", "resolved"


@dataclass(frozen=True)
class Update:
    kind: str  # INITIAL, PROGRESS or RESOLVED
    text: str  # mrkdwn, every typed value escaped: what Slack gets
    plain: str  # as a person reads it: the modal, the timeline and Statuspage get this


def next_kind(incident: Incident) -> str:
    """Where the incident stands: the first update says we are investigating, later ones report progress."""
    return INITIAL if incident.status_updates == 0 else PROGRESS


def fingerprint(text: str) -> str:
    """Tells, on submit, whether the proposed text was left as it was (the modal keeps only this)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def context(incident: Incident, playbook_title: str, kind: str, *, now_ms: int, eta: str = "") -> dict[str, Any]:
    """What a status template may use. Plain values only: the sandbox gets no objects to explore."""
    end = incident.resolved_at if incident.resolved_at else now_ms
    return {
        "kind": kind,
        "incident": incident.name,
        "title": incident.title,
        "service": incident.service or incident.title,
        "severity": incident.severity,
        "description": incident.description,
        "playbook": playbook_title,
        "time": utc(now_ms),
        "started": utc(incident.declared_at),
        "duration": format_duration((end - incident.declared_at) / 1000),
        "eta": eta.strip(),
        "cause": incident.cause,
        "resolution": incident.resolution,
        "update_number": incident.status_updates + 1,
    }


def render(deps: Deps, incident: Incident, kind: str, *, now_ms: int, eta: str = "") -> Update:
    book = deps.book(incident.playbook)
    ctx = context(incident, book.meta.title if book else incident.playbook, kind, now_ms=now_ms, eta=eta)
    text = deps.templates.render(kind, incident.playbook, ctx)
    return Update(kind=kind, text=text, plain=unescape(text))


def typed(kind: str, text: str) -> Update:
    """An update as a person edited it: posted as they wrote it, escaped for Slack."""
    plain = text.strip()
    return Update(kind=kind, text=escape(plain), plain=plain)


async def publish(deps: Deps, incident: Incident, update: Update, user: str,
                  event_id: str) -> tuple[Incident | None, list[str]]:
    """Record the update, then post it everywhere it goes: (incident after, what failed).

    The timeline entry comes first and its id makes a resubmitted modal a no-op (None is returned).
    """
    event = Event(type="status_update", actor=user, at=deps.clock(), id=event_id,
                  data={"kind": update.kind, "text": update.plain})
    recorded = await deps.store.record_status_update(incident.id, event, require_open=update.kind != RESOLVED)
    if recorded is None:
        return None, []
    settings = deps.settings
    posted_in = ""

    async def to_status_channel() -> None:
        nonlocal posted_in
        if settings.status_channel:
            text, status_blocks = blocks.status_update_post(recorded, update.kind, update.text)
            resp = await deps.client.chat_postMessage(channel=settings.status_channel, text=text,
                                                      blocks=status_blocks or None)
            posted_in = str(resp.get("channel") or "")

    async def to_statuspage() -> None:
        if settings.statuspage_enabled:
            page_id = await statuspage.publish(settings, recorded, update.kind, update.plain)
            if page_id and page_id != recorded.statuspage_id:
                await deps.store.set_fields(recorded.id, {"statuspage_id": page_id})

    async def to_incident_channel() -> None:
        if update.kind != RESOLVED:  # the resolved update is echoed by resolve's own message
            text, echo = blocks.status_update_echo(recorded, update.kind, update.text, user, posted_in)
            await deps.client.chat_postMessage(channel=recorded.channel_id, text=text, blocks=echo or None)

    failed = await attempt_all(incident.id, {"status channel": to_status_channel(), "Statuspage": to_statuspage()})
    failed |= await attempt_all(incident.id, {"incident channel": to_incident_channel()})
    return recorded, [f"{what}: {why}" for what, why in failed.items()]
