"""`/incident <playbook>`: the modal, and setting up the channel once it is submitted."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.channels import channel_name
from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.handlers import guarded
from bot.ids import Callback, DeclareMeta
from bot.incident import Event, Incident
from bot.playbook import Playbook
from bot.replies import tell
from bot.schedule import plan_for_incident
from bot.store import Store

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 8


async def open_modal(client: AsyncWebClient, body: dict[str, Any], book: Playbook, title: str) -> None:
    # No Redis or other call before views.open: the trigger id lives three seconds.
    meta = DeclareMeta(playbook=book.key, channel=body.get("channel_id", ""),
                       response_url=body.get("response_url", ""))
    await client.views_open(trigger_id=body["trigger_id"], view=blocks.declare_modal(book, title, meta))


def _value(state: dict[str, Any], block: str) -> str:
    element = state.get(block, {}).get("value", {})
    if element.get("type") == "static_select":
        return str((element.get("selected_option") or {}).get("value") or "")
    return str(element.get("value") or "").strip()


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.DECLARE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        meta = DeclareMeta.model_validate_json(view["private_metadata"])
        state = view["state"]["values"]
        user = body["user"]["id"]
        book = deps.book(meta.playbook)
        title = _value(state, "title")
        if book is None:
            await ack(response_action="errors",
                      errors={"title": f"Playbook {meta.playbook!r} is no longer loaded; close and retry."})
            return
        if not title:
            await ack(response_action="errors", errors={"title": "Give the incident a short title."})
            return
        now = deps.clock()
        fields = {
            "playbook": book.key, "title": title, "severity": _value(state, "severity") or book.meta.severity,
            "service": _value(state, "service"), "description": _value(state, "description"),
            "status": "open", "phase": "0", "commander": user, "declared_by": user, "declared_at": str(now),
        }
        # Store before answering: if Redis is down the modal stays open and says so, nothing is lost.
        try:
            incident_id = await deps.store.next_incident_id()
            fields["id"] = incident_id
            event = Event(type="declared", actor=user, at=now,
                          data={"title": title, "severity": fields["severity"], "playbook": book.key})
            created, incident_id = await deps.store.create_incident(incident_id, view["id"], fields, event)
        except StorageUnavailable as e:
            await ack(response_action="errors", errors={"title": "Could not declare: " + e.user_message})
            return
        await ack()
        if not created:
            log.info("declare modal %s submitted again; incident %s already exists", view["id"], incident_id)
            return
        await set_up(deps, client, incident_id, book, meta.response_url, body)


async def _create_channel(client: AsyncWebClient, incident: Incident) -> tuple[str, str]:
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = channel_name(incident.playbook, incident.title, incident.declared_at, attempt)
        try:
            resp = await client.conversations_create(name=name, is_private=False)
            return str(resp["channel"]["id"]), name
        except SlackApiError as e:
            if e.response.get("error") != "name_taken":
                raise
    raise RuntimeError("every candidate channel name was taken")


async def _invite_targets(client: AsyncWebClient, deps: Deps, incident: Incident,
                          book: Playbook) -> tuple[list[str], list[str]]:
    """User ids to invite (declarer + responders), and responder roles with no roster entry."""
    users = [incident.declared_by]
    missing: list[str] = []
    for role in book.meta.responders:
        target = deps.settings.roster.get(role)
        if target is None:
            missing.append(role)
        elif target.startswith("S"):
            resp = await client.usergroups_users_list(usergroup=target)
            members: list[str] = resp.get("users", [])
            users += [str(u) for u in members]
        else:
            users.append(target)
    return list(dict.fromkeys(users)), missing


async def _invite(client: AsyncWebClient, channel: str, users: list[str]) -> list[str]:
    """Invite everyone we can; returns the ids that could not be invited, with the reason."""
    try:
        await client.conversations_invite(channel=channel, users=",".join(users))
        return []
    except SlackApiError as e:
        if e.response.get("error") == "already_in_channel":
            return []
    failed = []
    for uid in users:  # one bad id must not keep everyone else out
        try:
            await client.conversations_invite(channel=channel, users=uid)
        except SlackApiError as e:
            if e.response.get("error") not in ("already_in_channel", "cant_invite_self"):
                failed.append(f"<@{uid}> ({e.response.get('error')})")
    return failed


async def set_up(deps: Deps, client: AsyncWebClient, incident_id: str, book: Playbook, response_url: str,
                 body: dict[str, Any]) -> None:
    """Create and fill the incident channel. Every failure is told to the declarer and kept on the timeline."""
    store = deps.store
    incident = await store.get(incident_id)
    try:
        channel_id, name = await _create_channel(client, incident)
    except (SlackApiError, RuntimeError) as e:
        reason = e.response.get("error") if isinstance(e, SlackApiError) else str(e)
        await store.abandon(incident_id, Event(type="declare_failed", actor="bot", at=deps.clock(),
                                               data={"stage": "create channel", "error": reason}))
        await tell(client, body, f"⚠️ {incident.name} could not be declared: Slack refused to create the "
                   f"channel ({reason}). It is recorded as failed; please declare again.", response_url=response_url)
        return
    await store.link_channel(incident_id, channel_id, name)
    await store.add_event(incident_id, Event(type="channel_created", actor="bot", at=deps.clock(),
                                             data={"channel": channel_id, "name": name}))
    await store.schedule(plan_for_incident(incident, book))
    incident = await store.get(incident_id)

    async def invite() -> None:
        users, missing = await _invite_targets(client, deps, incident, book)
        failed = await _invite(client, channel_id, users)
        if missing or failed:
            parts = []
            if missing:
                parts.append("no roster entry for " + ", ".join(f"`{r}`" for r in missing)
                             + " (add them to ROSTER)")
            if failed:
                parts.append("could not invite " + ", ".join(failed))
            await client.chat_postMessage(channel=channel_id, text="⚠️ Responders: " + "; ".join(parts) + ".")

    async def card() -> None:
        text, card_blocks = blocks.card(incident, book)
        resp = await client.chat_postMessage(channel=channel_id, text=text, blocks=card_blocks)
        await store.set_fields(incident_id, {"card_ts": str(resp["ts"])})
        await client.pins_add(channel=channel_id, timestamp=resp["ts"])

    async def first_phase() -> None:
        text, phase_blocks = blocks.phase_message(incident, book, 0)
        resp = await client.chat_postMessage(channel=channel_id, text=text, blocks=phase_blocks)
        await store.set_fields(incident_id, {"phase_ts:0": str(resp["ts"])})

    async def topic() -> None:
        await client.conversations_setTopic(channel=channel_id, topic=blocks.topic(incident, book))

    async def announce() -> None:
        if deps.settings.announce_channel:
            text, ann_blocks = blocks.announcement(incident, book)
            await client.chat_postMessage(channel=deps.settings.announce_channel, text=text, blocks=ann_blocks)

    stages = {"invite responders": invite(), "post and pin the incident card": card(),
              "post the first phase": first_phase(), "set the topic": topic(),
              "announce": announce()}
    results = await asyncio.gather(*stages.values(), return_exceptions=True)
    failures = []
    for stage, result in zip(stages, results, strict=True):
        if isinstance(result, BaseException):
            reason = result.response.get("error") if isinstance(result, SlackApiError) else repr(result)
            log.warning("incident %s: %s failed: %s", incident_id, stage, reason)
            failures.append(f"{stage} ({reason})")
            await _record_failure(store, deps, incident_id, stage, str(reason))
    if failures:
        message = (f"⚠️ {incident.name} is declared in <#{channel_id}>, but some set-up failed: "
                   + "; ".join(failures) + ". The incident works; fix or retry those by hand.")
        await tell(client, body, message, response_url=response_url)
        try:
            await client.chat_postMessage(channel=channel_id, text=message)
        except SlackApiError:
            log.warning("incident %s: could not post the set-up failure in the channel", incident_id)


async def _record_failure(store: Store, deps: Deps, incident_id: str, stage: str, reason: str) -> None:
    await store.add_event(incident_id, Event(type="declare_failed", actor="bot", at=deps.clock(),
                                             data={"stage": stage, "error": reason}))
