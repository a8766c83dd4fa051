"""Declaring: store the new incident, then create and fill its channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot import metrics, parts, replies
from bot.attempts import attempt_all, reason
from bot.channels import channel_name
from bot.deps import Deps
from bot.errors import BotError, StorageUnavailable
from bot.forms import DeclareForm
from bot.incident import Event, Incident, Source, Status
from bot.playbook import Playbook
from bot.schedule import plan_for_incident
from bot.sync import post, sync

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 8
# How long a set-up waits out Redis being unreachable (a failover takes up to ~10 s), and how often it tries.
SET_UP_STORE_PATIENCE_S = 20.0
SET_UP_STORE_RETRY_S = 0.5
# How long one request holds the set-up of an incident (a set-up takes seconds; a crashed one is taken over after).
SET_UP_CLAIM_S = 120
# An incident still without its channel this long after it was stored was left behind (a set-up waits out
# Redis for SET_UP_STORE_PATIENCE_S at most).
LEFT_BEHIND_MS = 60_000
T = TypeVar("T")


@dataclass
class SetUp:
    incident: Incident
    channel_id: str = ""  # empty when Slack refused to create the channel
    error: str = ""  # why, then
    failed: dict[str, str] = field(default_factory=dict)  # set-up stages that failed, with the reason


async def create(deps: Deps, book: Playbook, form: DeclareForm, user: str, request_token: str,
                 source: Source = Source.SLASH, *, incident_id: str = "",
                 extra: dict[str, str] | None = None) -> tuple[bool, str]:
    """Store the incident; (created, id). The same request (a modal submitted twice, an alert group processed
    again) creates one. An alert declares with no `user`: nobody is commander until someone takes it."""
    now = deps.clock()
    incident_id = incident_id or await deps.store.next_incident_id()
    fields = {"id": incident_id, "playbook": book.key, "title": form.title, "severity": form.severity,
              "service": form.service, "description": form.description, "status": Status.OPEN, "phase": "0",
              "commander": user, "declared_by": user, "declared_at": str(now),
              "private": "1" if form.private else "0", "source": source, **(extra or {})}
    data = {"title": form.title, "severity": form.severity, "playbook": book.key}
    event = Event(type="declared", actor=user or "alert", at=now,
                  data={**data, "source": source} if source else data)
    plan = plan_for_incident(Incident.from_redis(fields, {}), book)
    created, incident_id = await deps.store.create_incident(incident_id, request_token, fields, event, plan)
    if created:
        metrics.DECLARED.labels(playbook=book.key, source=source or "slash").inc()
    return created, incident_id


async def _create_channel(deps: Deps, incident: Incident) -> tuple[str, str]:
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = channel_name(incident.playbook, incident.title, incident.declared_at, attempt)
        try:
            resp = await deps.client.conversations_create(name=name, is_private=incident.private)
            return str(resp["channel"]["id"]), name
        except SlackApiError as e:
            if e.response.get("error") != "name_taken":
                raise
    raise RuntimeError("every candidate channel name was taken")


async def _invite_targets(deps: Deps, incident: Incident, book: Playbook) -> tuple[list[str], list[str]]:
    """User ids to invite (declarer + responders), and what could not be resolved (roles, groups)."""
    users = [incident.declared_by] if incident.declared_by else []
    problems: list[str] = []
    for role in book.meta.responders:
        entry = deps.settings.roster.get(role)
        target = entry.slack if entry else None
        if target is None:
            problems.append(replies.no_roster_entry(role))
        elif target.startswith("S"):
            try:
                resp = await deps.client.usergroups_users_list(usergroup=target)
            except SlackApiError as e:  # one group failing must not keep everyone else out
                problems.append(replies.group_unresolved(role, reason(e)))
                continue
            members: list[str] = resp.get("users", [])
            users += [str(u) for u in members]
        else:
            users.append(target)
    return list(dict.fromkeys(users)), problems


async def _invite(deps: Deps, channel: str, users: list[str]) -> list[str]:
    """Invite everyone we can; says who could not be invited, and why."""
    if not users:
        return []
    try:
        await deps.client.conversations_invite(channel=channel, users=",".join(users))
        return []
    except SlackApiError as e:
        if e.response.get("error") == "already_in_channel":
            return []
    failed = []
    for uid in users:  # one bad id must not keep everyone else out
        try:
            await deps.client.conversations_invite(channel=channel, users=uid)
        except SlackApiError as e:
            if e.response.get("error") not in ("already_in_channel", "cant_invite_self"):
                failed.append(replies.not_invited(uid, reason(e)))
    return failed


async def _stored(write: Callable[[], Awaitable[T]]) -> T:
    """Run a Redis step of a set-up whose incident is already stored, through a short outage (a restart, a
    Sentinel failover): giving up would leave a declared incident without its channel."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SET_UP_STORE_PATIENCE_S
    while True:
        try:
            return await write()
        except StorageUnavailable as e:
            if loop.time() >= deadline:
                raise
            log.warning("incident set-up waits for Redis: %s", e.reason)
            await asyncio.sleep(SET_UP_STORE_RETRY_S)


async def set_up_left_behind(deps: Deps) -> int:
    """Set up the channels of incidents stored but never set up (the replica declaring them died, or Redis was
    away longer than a set-up waits): their escalations need a channel. How many were set up."""
    done = 0
    for incident_id in await deps.store.left_without_channel(LEFT_BEHIND_MS):
        incident = await deps.store.get(incident_id)
        book = deps.book(incident.playbook)
        if not incident.is_open or incident.channel_id or book is None:
            await deps.store.forget_without_channel(incident_id)
        elif await deps.store.take_set_up(incident_id, SET_UP_CLAIM_S):
            log.warning("%s was stored without its channel; setting it up now", incident.name)
            await set_up(deps, incident_id, book)
            done += 1
    return done


async def needs_set_up(deps: Deps, incident_id: str, created: bool) -> bool:
    """Whether this request is the one to set the incident's channel up. A declare answered "not saved" (or
    whose answer was lost) may have been stored all the same: submitted again, it finds the incident without
    a channel and sets it up, once however many submits arrive."""
    if not created:
        incident = await deps.store.get(incident_id)
        if not incident.is_open or incident.channel_id:
            return False
    return await deps.store.take_set_up(incident_id, SET_UP_CLAIM_S)


async def set_up(deps: Deps, incident_id: str, book: Playbook) -> SetUp:
    """Create and fill the incident channel. Every failure is kept on the timeline and returned."""
    store = deps.store
    incident = await _stored(lambda: store.get(incident_id))
    try:
        channel_id, name = await _create_channel(deps, incident)
    except (SlackApiError, RuntimeError) as e:
        why = reason(e) if isinstance(e, SlackApiError) else str(e)
        await store.abandon(incident_id, Event(type="declare_failed", actor="bot", at=deps.clock(),
                                               data={"stage": "create channel", "error": why}))
        return SetUp(incident, error=why)
    linked = Event(type="channel_created", actor="bot", at=deps.clock(), data={"channel": channel_id, "name": name})
    try:
        incident = await _stored(lambda: store.link_channel(incident_id, channel_id, name, linked))
    except StorageUnavailable as e:
        raise BotError(replies.channel_not_linked(incident.name, channel_id, e.reason or "no answer")) from e

    async def invite() -> None:
        users, problems = await _invite_targets(deps, incident, book)
        problems += await _invite(deps, channel_id, users)
        if problems:
            await deps.client.chat_postMessage(channel=channel_id, text=replies.responder_problems(problems))

    async def card() -> None:
        ts = await post(deps, incident, parts.CARD, channel_id)
        await deps.client.pins_add(channel=channel_id, timestamp=ts)

    async def announce() -> None:
        if deps.settings.announce_channel:
            await post(deps, incident, parts.ANNOUNCEMENT, deps.settings.announce_channel)

    async def topic() -> None:
        if not await sync(deps, incident_id, [parts.TOPIC]):
            raise BotError(replies.RETRIED_LATER)

    failed = await attempt_all(incident_id, {
        "invite responders": invite(), "post and pin the incident card": card(),
        "post the first phase": post(deps, incident, parts.phase(0), channel_id), "set the topic": topic(),
        "announce": announce()})
    for stage, why in failed.items():
        await store.add_event(incident_id, Event(type="declare_failed", actor="bot", at=deps.clock(),
                                                 data={"stage": stage, "error": why}))
    return SetUp(incident, channel_id=channel_id, failed=failed)
