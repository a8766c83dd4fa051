"""Pushing the stored incident out to Slack: the only code that posts a part's message or changes it.

`sync(deps, incident_id, parts)` makes each part show the newest stored state. Per part, one caller at a
time draws (a lock in Redis); a caller that finds the lock taken leaves, because the holder checks the
version before letting go and draws again when it moved. A part whose content is unchanged costs no
Slack call (its digest is kept). Any failure lets go of the lock and leaves the part marked dirty; the
sweep (every replica's scheduler runs it) draws dirty parts again, so Slack converges after any fault.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import IncidentGone, StorageUnavailable
from bot.incident import Incident, Status
from bot.parts import Kind, Part
from bot.render import Drawn, content, draw
from bot.schedule import Due
from bot.store import Drawing, new_token

log = logging.getLogger(__name__)

# A part dirty for longer than this is the sweep's to draw (a live render takes well under it).
SWEEP_AFTER_MS = 2000
# How long a first post may take (the client's retries included) before the sweep may post it again.
POSTING_MS = 60_000
PART_METADATA = "incident_part"
# Pages of channel history read to find an earlier post (200 messages each).
HISTORY_PAGES = 10
# Slack's answers that no retry can change: the part is given up, not swept for ever.
PERMANENT = frozenset({"message_not_found", "channel_not_found", "is_archived", "cant_update_message",
                       "not_in_channel", "edit_window_closed", "invalid_blocks", "msg_too_long",
                       "msg_blocks_too_long", "too_long", "missing_scope", "invalid_auth", "account_inactive",
                       "token_revoked"})


async def sync(deps: Deps, incident_id: str, parts: Iterable[Part]) -> bool:
    """Make every part in `parts` show the stored incident; False if any is left for the sweep."""
    results = await asyncio.gather(*(_sync_part(deps, incident_id, p) for p in set(parts)))
    return all(results)


async def post(deps: Deps, incident: Incident, part: Part, channel: str,
               metadata: dict[str, Any] | None = None, client: AsyncWebClient | None = None, *,
               marked: bool = False, done: Due | None = None) -> str:
    """Post a part's first message and keep its ts; drawn again only if the incident moved meanwhile.
    `marked`: the script that changed the incident marked the part as being posted already (as
    store.mark_posting does). `done`: the scheduled item this post finishes, recorded with the ts."""
    book = deps.book(incident.playbook)
    drawn = content(part, incident, book, deps.settings.roster) if book else None
    if drawn is None:
        raise IncidentGone()
    text, body = drawn
    member = part.member(incident.id)
    # Until its ts is kept, the part is dirty and marked as being posted: if this post fails or the
    # process dies, the sweep posts it once the mark has run out (after looking for it in the channel).
    if not marked:
        await deps.store.mark_posting(incident.id, part.key, member, POSTING_MS)
    metadata = metadata or {"event_type": PART_METADATA, "event_payload": {"incident": incident.id, "part": part.key}}
    try:
        resp = await (client or deps.client).chat_postMessage(channel=channel, text=text, blocks=body,
                                                              metadata=metadata)
    except Exception:
        # This attempt is over (it may still have reached Slack: the sweep looks before posting again).
        await deps.store.posting_failed(incident.id, part.key, member)
        raise
    ts, channel_id = str(resp["ts"]), str(resp["channel"])
    fields = {part.ts_field: ts}
    if part.kind == Kind.ANNOUNCEMENT:
        fields["announcement_channel"] = channel_id
    token = new_token()
    drawing = await deps.store.part_posted(incident.id, part.key, member, incident.version,
                                           Drawn(channel_id, ts, text, body).digest, token, fields, done)
    if drawing is not None:
        await _sync_part(deps, incident.id, part, (token, drawing))
    return ts


async def adopt(deps: Deps, incident_id: str, part: Part, ts: str, done: Due | None = None) -> None:
    """A part's message found in Slack (an earlier attempt posted it and died): keep its ts and redraw it.
    `done`: the scheduled item it finishes."""
    token = new_token()
    drawing = await deps.store.part_posted(incident_id, part.key, part.member(incident_id), -1, "", token,
                                           {part.ts_field: ts}, done)
    if drawing is not None:
        await _sync_part(deps, incident_id, part, (token, drawing))


async def find_posted(deps: Deps, channel: str, since_ms: int, metadata_type: str, item: str) -> str:
    """The ts of a message posted with metadata naming `item` (an earlier attempt that crashed before keeping
    its ts), or "", paging through the channel's history since a minute before `since_ms` (Slack's clock and
    Redis's need not agree to the millisecond)."""
    oldest, cursor = f"{(since_ms - 60_000) / 1000:.6f}", ""
    for _ in range(HISTORY_PAGES):
        resp = await deps.client.conversations_history(channel=channel, oldest=oldest, include_all_metadata=True,
                                                       limit=200, cursor=cursor or None)
        messages: list[dict[str, Any]] = resp.get("messages", [])
        for message in messages:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == metadata_type and (meta.get("event_payload") or {}).get("id") == item:
                return str(message.get("ts") or "")
        cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return ""
    return ""


async def sweep(deps: Deps) -> int:
    """Draw again the parts left dirty by a failure or a dead replica, and post those whose first post
    never happened; how many were tried."""
    members = await deps.store.dirty_members(SWEEP_AFTER_MS)
    await asyncio.gather(*(_repair(deps, *Part.from_member(m)) for m in members))
    return len(members)


def _wanted(deps: Deps, incident: Incident, part: Part) -> str:
    """Where a part that should exist by now is posted ("" when it is not wanted or is posted already)."""
    if not incident.channel_id or incident.status == Status.FAILED:
        return ""
    if part.kind == Kind.CARD and not incident.card_ts:
        return incident.channel_id
    if part.kind == Kind.PHASE and not incident.phase_ts.get(part.index):
        reached = part.index <= incident.phase if incident.is_open else part.index < incident.phase
        return incident.channel_id if reached else ""
    if part.kind == Kind.ANNOUNCEMENT and not incident.announcement_ts:
        return deps.settings.announce_channel or ""
    return ""


async def _repair(deps: Deps, incident_id: str, part: Part) -> None:
    try:
        incident = await deps.store.get(incident_id)
        book = deps.book(incident.playbook)
        channel = _wanted(deps, incident, part) if book else ""
        if channel:
            if await deps.store.posting(incident_id, part.key):
                return  # its first post is still under way: leave it dirty, it is looked at again later
            ts = await _posted_before(deps, incident, part)
            if ts:
                await adopt(deps, incident_id, part, ts)
            else:
                ts = await post(deps, incident, part, channel)
                if part.kind == Kind.CARD:
                    await deps.client.pins_add(channel=channel, timestamp=ts)
            return
    except IncidentGone:  # nothing left to show: the mark would be looked at every sweep, for ever
        await _forget(deps, part.member(incident_id))
        return
    except (SlackApiError, StorageUnavailable) as e:
        log.warning("incident %s: posting %s again failed: %r", incident_id, part.key, e)
        return
    await _sync_part(deps, incident_id, part)


async def _forget(deps: Deps, member: str) -> None:
    try:
        await deps.store.forget_dirty(member)
    except StorageUnavailable:
        pass  # the next sweep tries again


async def _posted_before(deps: Deps, incident: Incident, part: Part) -> str:
    """The ts of the part's message if an earlier post reached Slack (the incident channel's history)."""
    if part.kind == Kind.ANNOUNCEMENT or not incident.channel_id:
        return ""  # only the incident channel's id is known for sure; the announcement may repeat
    resp = await deps.client.conversations_history(channel=incident.channel_id, include_all_metadata=True,
                                                   limit=200)
    messages: list[dict[str, Any]] = resp.get("messages", [])
    for message in messages:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("incident") == incident.id and payload.get("part") == part.key:
            return str(message.get("ts"))
    return ""


async def _push(deps: Deps, drawn: Drawn) -> None:
    if drawn.blocks is None:
        await deps.client.conversations_setTopic(channel=drawn.channel, topic=drawn.text)
    else:
        await deps.client.chat_update(channel=drawn.channel, ts=drawn.ts, text=drawn.text, blocks=drawn.blocks)


async def draw_held(deps: Deps, incident_id: str, part: Part, token: str, drawing: Drawing | None) -> bool:
    """Draw a part whose lock the script that changed the incident took with `token` (`drawing` is what it
    handed back; None when another caller held the lock, which draws the change itself)."""
    return await _sync_part(deps, incident_id, part, (token, drawing))


async def _sync_part(deps: Deps, incident_id: str, part: Part,
                     held: tuple[str, Drawing | None] | None = None) -> bool:
    store, key, member = deps.store, part.key, part.member(incident_id)
    token = held[0] if held else new_token()
    try:
        drawing = held[1] if held else await store.lock_part(incident_id, key, member, token)
        while drawing is not None:
            incident = drawing.incident
            book = deps.book(incident.playbook)
            drawn = draw(part, incident, book, deps.settings.roster) if book else None
            digest = drawn.digest if drawn else ""
            if drawn is not None and digest != drawing.shown_digest:
                await _push(deps, drawn)
            drawing = await store.part_drawn(incident_id, key, member, token, incident.version, digest)
        return True
    except SlackApiError as e:
        error = str(e.response.get("error"))
        log.warning("incident %s: drawing %s failed: %s", incident_id, key, error)
        await _let_go(deps, incident_id, part, token, forget=error in PERMANENT)
    except StorageUnavailable:
        log.warning("incident %s: drawing %s failed: Redis unreachable", incident_id, key)
        await _let_go(deps, incident_id, part, token)
    except Exception:
        log.exception("incident %s: drawing %s failed", incident_id, key)
        await _let_go(deps, incident_id, part, token)
    return False


async def _let_go(deps: Deps, incident_id: str, part: Part, token: str, *, forget: bool = False) -> None:
    """Release the part and leave it dirty for the sweep (or drop it when Slack will never take it)."""
    member = part.member(incident_id)
    try:
        if not await deps.store.part_failed(incident_id, part.key, member, token):
            log.error("incident %s: giving up drawing %s after repeated failures", incident_id, part.key)
        if forget:
            await deps.store.forget_dirty(member)
    except StorageUnavailable:
        pass  # the lock expires by itself and the part stays dirty
