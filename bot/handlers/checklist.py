"""Phase checklists: Done / Undo on a step, Complete on a phase, a step's details."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, render
from bot.deps import Deps
from bot.errors import IncidentGone
from bot.handlers import guarded
from bot.handlers.resolve import open_resolve_modal
from bot.ids import Action, StepRef
from bot.incident import Event
from bot.playbook import Playbook
from bot.replies import tell
from bot.store import new_token


def _ref(body: dict[str, Any]) -> StepRef:
    action = body["actions"][0]
    raw = action.get("value") or (action.get("selected_option") or {}).get("value") or "{}"
    return StepRef.model_validate_json(raw)


def _book(deps: Deps, ref: StepRef) -> Playbook:
    book = deps.book(ref.b)
    if book is None or ref.p >= len(book.phases) or ref.s >= len(book.phases[ref.p].steps):
        raise IncidentGone()
    return book


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(re.compile(rf"^{Action.STEP}:"))
    @guarded
    async def on_step(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = _ref(body)
        book = _book(deps, ref)
        user = body["user"]["id"]
        event = Event(type="step_done" if ref.a == "done" else "step_undone", actor=user, at=deps.clock(),
                      data={"phase": ref.p, "step": ref.s, "text": book.phases[ref.p].steps[ref.s].text})
        token = new_token()
        result = await deps.store.step(ref.i, ref.p, ref.s, "done" if ref.a == "done" else "undo", event, token)
        if result.stale_phase:
            await tell(client, body, "That phase is already completed, so its steps can no longer change.")
            return
        await render.render_locked(client, deps.store, book, f"phase:{ref.p}", token, result.render)

    @app.action(re.compile(rf"^{Action.COMPLETE_PHASE}:"))
    @guarded
    async def on_complete(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = _ref(body)
        book = _book(deps, ref)
        if ref.p == len(book.phases) - 1:
            await open_resolve_modal(deps, client, body, ref.i)
            return
        await complete_phase(deps, client, body, book, ref.i, ref.p, body["user"]["id"])

    @app.action(re.compile(rf"^{Action.DETAILS}:"))
    @guarded
    async def on_details(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = _ref(body)
        book = _book(deps, ref)
        await client.views_open(trigger_id=body["trigger_id"],
                                view=blocks.step_details_modal(book, ref.p, ref.s))


async def complete_phase(deps: Deps, client: AsyncWebClient, body: dict[str, Any], book: Playbook,
                         incident_id: str, phase: int, user: str) -> None:
    """Close a phase that is not the last: open steps are skipped and the next checklist posted."""
    store = deps.store
    event = Event(type="phase_completed", actor=user, at=deps.clock(), data={"phase": phase})
    done = await store.complete_phase(incident_id, phase, len(book.phases[phase].steps), event)
    if done is None:
        await tell(client, body, f"{book.phases[phase].title} was already completed.")
        return
    _, incident = done

    async def post_next() -> None:
        text, next_blocks = blocks.phase_message(incident, book, phase + 1)
        resp = await client.chat_postMessage(channel=incident.channel_id, text=text, blocks=next_blocks)
        await store.set_fields(incident_id, {f"phase_ts:{phase + 1}": str(resp["ts"])})

    await asyncio.gather(
        post_next(),
        render.refresh(client, store, book, incident_id, f"phase:{phase}"),
        render.refresh(client, store, book, incident_id, "card"),
        client.conversations_setTopic(channel=incident.channel_id, topic=blocks.topic(incident, book)),
    )
