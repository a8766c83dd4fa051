"""Keeping Slack messages in step with Redis.

Two replicas can finish their chat.update calls in either order, so each message has a render lock:
its holder renders the newest state, and before letting go checks (atomically) that nobody changed
the incident meanwhile; if someone did, it renders again. A caller that finds the lock taken just
leaves: the holder will pick its change up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.incident import Incident
from bot.playbook import Playbook
from bot.store import Store, new_token

log = logging.getLogger(__name__)

Renderer = Callable[[Incident, Playbook], tuple[str, list[blocks.Block]]]


def target_for(kind: str, incident: Incident) -> tuple[str, str, Renderer] | None:
    """(target name, message ts, renderer) for the card or a phase message, if it was posted."""
    if kind == "card":
        return ("card", incident.card_ts, blocks.card) if incident.card_ts else None
    phase = int(kind.split(":", 1)[1])
    ts = incident.phase_ts.get(phase, "")
    if not ts:
        return None
    return kind, ts, lambda inc, book: blocks.phase_message(inc, book, phase)


async def render_locked(client: AsyncWebClient, store: Store, book: Playbook, kind: str, token: str,
                        snapshot: Incident | None) -> None:
    """Render while holding the lock for `kind`, until Slack shows the newest version."""
    while snapshot is not None:
        target = target_for(kind, snapshot)
        if target is None:
            await store.rendered(snapshot.id, kind, token, -1)
            return
        _, ts, renderer = target
        text, message_blocks = renderer(snapshot, book)
        try:
            await client.chat_update(channel=snapshot.channel_id, ts=ts, text=text, blocks=message_blocks)
        except SlackApiError:
            await store.rendered(snapshot.id, kind, token, -1)  # let go; the next change retries
            raise
        snapshot = await store.rendered(snapshot.id, kind, token, snapshot.version)


async def refresh(client: AsyncWebClient, store: Store, book: Playbook, incident_id: str, kind: str) -> None:
    """Bring one message up to date, unless another caller is already doing it."""
    token = new_token()
    snapshot = await store.lock_render(incident_id, kind, token)
    await render_locked(client, store, book, kind, token, snapshot)
