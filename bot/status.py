"""Status updates: which one is next, rendering it, and posting it to STATUS_CHANNEL, the incident
channel and (optionally) Atlassian Statuspage."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, statuspage
from bot.deps import Deps
from bot.durations import format_duration
from bot.incident import Event, Incident
from bot.mrkdwn import escape, unescape
from bot.timefmt import utc

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


async def publish(deps: Deps, client: AsyncWebClient, incident: Incident, update: Update, user: str,
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
    failures: list[str] = []

    async def to_status_channel() -> str:
        if not settings.status_channel:
            return ""
        text, status_blocks = blocks.status_update_post(recorded, update.kind, update.text)
        resp = await client.chat_postMessage(channel=settings.status_channel, text=text,
                                           blocks=status_blocks or None)
        return str(resp.get("channel") or "")

    async def to_statuspage() -> None:
        if not settings.statuspage_enabled:
            return
        page_id = await statuspage.publish(settings, recorded, update)
        if page_id and page_id != recorded.statuspage_id:
            await deps.store.set_fields(recorded.id, {"statuspage_id": page_id})

    posted, page = await asyncio.gather(to_status_channel(), to_statuspage(), return_exceptions=True)
    status_channel = posted if isinstance(posted, str) else ""
    for what, result in (("status channel", posted), ("Statuspage", page)):
        if isinstance(result, BaseException):
            failures.append(f"{what}: {_reason(result)}")
            log.warning("incident %s: status update to %s failed: %r", incident.id, what, result)
    if update.kind != RESOLVED:  # the resolved update is echoed by resolve's own message
        try:
            text, echo = blocks.status_update_echo(recorded, update.kind, update.text, user,
                                                    status_channel)
            await client.chat_postMessage(channel=recorded.channel_id, text=text, blocks=echo or None)
        except SlackApiError as e:
            failures.append(f"incident channel: {_reason(e)}")
    return recorded, failures


def _reason(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    if isinstance(error, statuspage.StatuspageError):
        return error.user_message
    return type(error).__name__
