"""Resolving: the modal asking for cause and resolution, and what follows its submit."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, rca, render, status
from bot.deps import Deps
from bot.errors import BotError, IncidentClosed, IncidentGone
from bot.handlers import guarded
from bot.ids import Callback, IncidentMeta
from bot.incident import Event, Incident
from bot.replies import tell
from bot.schedule import all_members
from bot.templating import TemplateFailed

log = logging.getLogger(__name__)

# How long a resolve waits for an escalation ping already on its way, so the channel reads in order.
INFLIGHT_WAIT_S = 3.0


async def open_resolve_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident_id: str) -> None:
    incident = await deps.store.get(incident_id)
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    meta = IncidentMeta(i=incident_id, response_url=body.get("response_url", ""))
    await client.views_open(trigger_id=body["trigger_id"], view=blocks.resolve_modal(incident, meta))


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.RESOLVE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        values = body["view"]["state"]["values"]
        cause = str(values["cause"]["value"].get("value") or "").strip()
        resolution = str(values["resolution"]["value"].get("value") or "").strip()
        errors = {}
        if not cause:
            errors["cause"] = "Say what caused it (a best guess is fine; the RCA can refine it)."
        if not resolution:
            errors["resolution"] = "Say what fixed it or made the impact stop."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = IncidentMeta.model_validate_json(body["view"]["private_metadata"])
        await resolve(deps, client, body, meta.i, body["user"]["id"], cause, resolution, meta.response_url)


async def resolve(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident_id: str, user: str,
                  cause: str, resolution: str, response_url: str = "") -> Incident | None:
    store = deps.store
    for _ in range(3):  # the phase may move on between reading it and resolving; read again
        incident = await store.get(incident_id)
        book = deps.book(incident.playbook)
        if book is None:
            raise IncidentGone()
        if not incident.is_open:
            raise IncidentClosed(incident.name)
        phase = min(incident.phase, len(book.phases) - 1)
        event = Event(type="phase_completed", actor=user, at=deps.clock(), data={"phase": phase})
        done = await store.complete_phase(incident_id, phase, len(book.phases[phase].steps), event, last=True,
                                          cause=cause, resolution=resolution,
                                          unschedule=all_members(incident_id, book))
        if done is not None:
            break
    else:
        await tell(client, body, "The incident changed while resolving; please try again.", response_url=response_url)
        return None
    _, resolved = done
    # Before any Slack call, so the RCA's deadline and reminder survive a crash right after resolving.
    await store.schedule_rca(incident_id, resolved.resolved_at + int(deps.settings.rca_due_after * 1000))
    await _wait_for_inflight_ping(deps, incident_id)
    text = blocks.resolved_message(resolved)
    jobs = [
        _resolved_update_and_rca(deps, client, incident_id, user),
        client.chat_postMessage(channel=resolved.channel_id, text=text),
        render.refresh(client, store, book, incident_id, f"phase:{phase}"),
        render.refresh(client, store, book, incident_id, "card"),
        client.conversations_setTopic(channel=resolved.channel_id, topic=blocks.topic(resolved, book)),
    ]
    if deps.settings.announce_channel:
        ann_text, ann_blocks = blocks.announcement(resolved, book)
        jobs.append(client.chat_postMessage(channel=deps.settings.announce_channel, text=ann_text,
                                            blocks=ann_blocks))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    for r in failed:
        log.warning("incident %s: after resolve: %r", incident_id, r)
    errors = [r.response.get("error", "?") if isinstance(r, SlackApiError) else
              r.user_message if isinstance(r, BotError) else type(r).__name__ for r in failed]
    errors += [note for r in results if isinstance(r, list) for note in r]
    if errors:
        await tell(client, body, f"{resolved.name} is resolved, but updating Slack partly failed "
                   f"({', '.join(errors)}).", response_url=response_url)
    return resolved


async def _resolved_update_and_rca(deps: Deps, client: AsyncWebClient, incident_id: str, user: str) -> list[str]:
    """The resolved status update, then the RCA draft, whose timeline therefore includes that update.

    A broken resolved template must not cost the RCA, so its failure is noted and the draft still goes out.
    """
    failures: list[str] = []
    try:
        incident = await deps.store.get(incident_id)
        update = status.render(deps, incident, status.RESOLVED, now_ms=deps.clock())
        _, failures = await status.publish(deps, client, incident, update, user, f"status:resolved:{incident_id}")
    except TemplateFailed as e:
        failures.append(e.user_message)
    await rca.post(deps, client, await deps.store.get(incident_id))
    return failures


async def _wait_for_inflight_ping(deps: Deps, incident_id: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + INFLIGHT_WAIT_S
    while loop.time() < deadline and await deps.store.sending(incident_id):
        await asyncio.sleep(0.05)
