"""The RCA: a Markdown draft rendered from the timeline at resolve, posted as a file, due within the
playbook's review window (`review_within`, else RCA_DUE_AFTER)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, limits, parts, replies
from bot.attempts import attempt_all
from bot.deps import Deps
from bot.durations import format_duration, in_words
from bot.errors import BadInput
from bot.incident import Event, Incident, Source
from bot.playbook import Playbook
from bot.sync import post as post_part
from bot.sync import sync
from bot.timefmt import utc, utc_clock, utc_date
from bot.timeline_view import Style, describe, plain

log = logging.getLogger(__name__)

# users.info calls per RCA at most; anyone beyond is shown by id.
MAX_LOOKUPS = 50
DAY_MS = 86_400_000
# Suggested due dates for the remediation table: immediate, short term (a week), long term (a month).
REMEDIATION_DAYS = {"immediate": 1, "short_term": 7, "long_term": 30}


def review_window_ms(deps: Deps, book: Playbook | None) -> int:
    """How long after the resolve the RCA is due: the playbook's `review_within`, else RCA_DUE_AFTER."""
    seconds = book.meta.review_within if book is not None and book.meta.review_within else None
    return int((seconds or deps.settings.rca_due_after) * 1000)


def filename(incident: Incident) -> str:
    return f"{incident.name}-rca.md"


def timeline_entries(incident: Incident, book: Playbook | None, events: Iterable[Event],
                     people: dict[str, str]) -> list[dict[str, Any]]:
    """Each event as T+minutes, time and a plain sentence saying who did what."""
    events = list(events)
    names = dict(people)
    for ev in events:
        if ev.type == "channel_created" and ev.data.get("name"):
            names.setdefault(str(ev.data.get("channel", "")), str(ev.data["name"]))
    style = plain(names)
    out = []
    day = ""
    for ev in events:
        who = ev.actor if ev.actor.startswith(("U", "W")) else "bot"
        date = utc_date(ev.at)
        out.append({
            "minutes": max(0, (ev.at - incident.declared_at) // 60_000),
            "date": date,
            "new_day": date != day,  # the first event of its day (the template prints a date line)
            "time": utc_clock(ev.at),
            "who": "@" + people.get(who, who) if who != "bot" else "the bot",
            "type": ev.type,
            "text": " ".join(describe(ev, book, style).split()),
        })
        day = date
    return out


def context(incident: Incident, book: Playbook | None, events: list[Event], people: dict[str, str], *,
            now_ms: int, due_ms: int) -> dict[str, Any]:
    """What the RCA template may use. Plain values only, so the sandbox has nothing to explore."""

    def name(uid: str) -> str:
        return "@" + people.get(uid, uid) if uid else ""

    end = incident.resolved_at or now_ms
    return {
        "incident": incident.name,
        "title": incident.title,
        "service": incident.service,
        "severity": incident.severity,
        "playbook": book.meta.title if book else incident.playbook,
        "description": incident.description,
        "started": utc(incident.declared_at),
        "ended": utc(end) if incident.resolved_at else "",
        "duration": format_duration((end - incident.declared_at) / 1000),
        "declared_by": name(incident.declared_by) or ("an alert" if incident.source == Source.ALERT else ""),
        "commander": name(incident.commander),
        "resolved_by": name(incident.resolved_by),
        "cause": incident.cause,
        "resolution": incident.resolution,
        "status_updates": sum(1 for ev in events if ev.type == "status_update"),
        "escalations": sum(1 for ev in events if ev.type == "escalated"),
        "generated": utc(now_ms),
        "due": utc(due_ms),
        "review_within": in_words((due_ms - end) / 1000),
        "remediation_due": {k: utc_date(end + days * DAY_MS) for k, days in REMEDIATION_DAYS.items()},
        "timeline": timeline_entries(incident, book, events, people),
    }


def render_markdown(deps: Deps, incident: Incident, events: list[Event], people: dict[str, str], *,
                    now_ms: int) -> str:
    book = deps.book(incident.playbook)
    due_ms = incident.rca_due_at or (incident.resolved_at or now_ms) + review_window_ms(deps, book)
    ctx = context(incident, book, events, people, now_ms=now_ms, due_ms=due_ms)
    return deps.templates.render("rca", incident.playbook, ctx)


def people_in(incident: Incident, book: Playbook | None, events: list[Event]) -> set[str]:
    """User ids the RCA will name."""
    ids = {incident.declared_by, incident.commander, incident.resolved_by}

    def seen(uid: str) -> str:
        ids.add(uid)
        return uid

    collect = Style(user=seen, channel=str, link=lambda url, label: label, typed=str)
    for ev in events:
        describe(ev, book, collect)
    return {uid for uid in ids if uid.startswith(("U", "W"))}


async def lookup_people(client: AsyncWebClient, ids: Iterable[str]) -> dict[str, str]:
    """Display names for a readable document; anyone Slack can't tell us about stays an id."""

    async def one(uid: str) -> tuple[str, str]:
        try:
            resp = await client.users_info(user=uid)
        except SlackApiError:
            return uid, uid
        user: dict[str, Any] = resp.get("user") or {}
        profile: dict[str, Any] = user.get("profile") or {}
        return uid, str(profile.get("display_name") or user.get("real_name") or user.get("name") or uid)

    found = await asyncio.gather(*(one(uid) for uid in sorted(ids)[:MAX_LOOKUPS]))
    return dict(found)


async def post(deps: Deps, incident: Incident) -> None:
    """Render the RCA from the whole timeline and post it in the incident channel with its summary."""
    book = deps.book(incident.playbook)
    events = [ev async for ev in deps.store.iter_timeline(incident.id)]
    people = await lookup_people(deps.client, people_in(incident, book, events))
    content = render_markdown(deps, incident, events, people, now_ms=deps.clock())
    resp = await deps.client.files_upload_v2(
        channel=incident.channel_id, content=content, filename=filename(incident),
        title=f"RCA draft · {incident.name} · {incident.title}"[:limits.FILE_TITLE],
        initial_comment=blocks.rca_comment(incident),
    )
    file_id = str((resp.get("file") or {}).get("id") or "")
    recorded = await deps.store.add_event(incident.id, Event(
        type="rca_posted", actor="bot", at=deps.clock(), id=f"rca_posted:{incident.id}",
        data={"file": file_id, "filename": filename(incident)}))
    await post_part(deps, recorded, parts.RCA_REVIEW, incident.channel_id)


async def mark_reviewed(deps: Deps, incident_id: str, user: str) -> Incident:
    """Record the review once; the reminder is dropped. BadInput says why when it can't be marked."""
    event = Event(type="rca_reviewed", actor=user, at=deps.clock(), id=f"rca_reviewed:{incident_id}")
    shown = [parts.CARD, parts.RCA_REVIEW, parts.RCA_REMINDER]
    outcome, incident, by = await deps.store.mark_rca_reviewed(incident_id, event, redraw=shown)
    if outcome == "already":
        raise BadInput(replies.rca_already_reviewed(by))
    if incident is None:
        raise BadInput(replies.NO_RCA_YET)
    await attempt_all(incident_id, {
        "announce the review": deps.client.chat_postMessage(channel=incident.channel_id,
                                                            text=blocks.rca_reviewed_message(incident)),
        "show the review": sync(deps, incident_id, shown)})
    return incident
