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

from bot.deps import Deps
from bot.errors import IncidentGone, StorageUnavailable
from bot.incident import Incident
from bot.parts import Kind, Part
from bot.render import Drawn, content, draw
from bot.store import new_token

log = logging.getLogger(__name__)

# A part dirty for longer than this is the sweep's to draw (a live render takes well under it).
SWEEP_AFTER_MS = 2000
# Slack's answers that no retry can change: the part is given up, not swept for ever.
PERMANENT = frozenset({"message_not_found", "channel_not_found", "is_archived", "cant_update_message",
                       "not_in_channel", "edit_window_closed", "invalid_blocks", "msg_too_long",
                       "invalid_auth", "account_inactive", "token_revoked"})


async def sync(deps: Deps, incident_id: str, parts: Iterable[Part]) -> bool:
    """Make every part in `parts` show the stored incident; False if any is left for the sweep."""
    results = await asyncio.gather(*(_sync_part(deps, incident_id, p) for p in set(parts)))
    return all(results)


async def post(deps: Deps, incident: Incident, part: Part, channel: str,
               metadata: dict[str, Any] | None = None) -> str:
    """Post a part's first message, keep its ts, then sync it in case the incident moved meanwhile."""
    book = deps.book(incident.playbook)
    drawn = content(part, incident, book, deps.settings.roster) if book else None
    if drawn is None:
        raise IncidentGone()
    text, body = drawn
    resp = await deps.client.chat_postMessage(channel=channel, text=text, blocks=body, metadata=metadata)
    ts, channel_id = str(resp["ts"]), str(resp["channel"])
    fields = {part.ts_field: ts}
    if part.kind == Kind.ANNOUNCEMENT:
        fields["announcement_channel"] = channel_id
    await deps.store.part_posted(incident.id, part.key, incident.version, Drawn(channel_id, ts, text, body).digest,
                                 fields)
    await sync(deps, incident.id, [part])
    return ts


async def find_posted(deps: Deps, channel: str, since_ms: int, metadata_type: str, item: str) -> str:
    """The ts of a message posted with metadata naming `item` (an earlier attempt that crashed before keeping
    its ts), or "". A minute of margin before `since_ms`: Slack's clock and Redis's need not agree."""
    oldest = f"{(since_ms - 60_000) / 1000:.6f}"
    resp = await deps.client.conversations_history(channel=channel, oldest=oldest, include_all_metadata=True,
                                                   limit=200)
    messages: list[dict[str, Any]] = resp.get("messages", [])
    for message in messages:
        meta = message.get("metadata") or {}
        if meta.get("event_type") == metadata_type and (meta.get("event_payload") or {}).get("id") == item:
            return str(message.get("ts") or "")
    return ""


async def sweep(deps: Deps) -> int:
    """Draw again the parts left dirty by a failure or a dead replica; how many were tried."""
    members = await deps.store.dirty_members(SWEEP_AFTER_MS)
    await asyncio.gather(*(_sync_part(deps, *Part.from_member(m)) for m in members))
    return len(members)


async def _push(deps: Deps, drawn: Drawn) -> None:
    if drawn.blocks is None:
        await deps.client.conversations_setTopic(channel=drawn.channel, topic=drawn.text)
    else:
        await deps.client.chat_update(channel=drawn.channel, ts=drawn.ts, text=drawn.text, blocks=drawn.blocks)


async def _sync_part(deps: Deps, incident_id: str, part: Part) -> bool:
    store, key, member, token = deps.store, part.key, part.member(incident_id), new_token()
    try:
        drawing = await store.lock_part(incident_id, key, member, token)
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
        await deps.store.part_failed(incident_id, part.key, member, token)
        if forget:
            await deps.store.forget_dirty(member)
    except StorageUnavailable:
        pass  # the lock expires by itself and the part stays dirty
