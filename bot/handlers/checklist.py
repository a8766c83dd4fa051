"""Phase checklists: Done / Undo on a step, Complete on a phase, a step's details."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import modals
from bot.deps import Deps
from bot.errors import IncidentGone
from bot.handlers import guarded
from bot.handlers.resolve import open_resolve_modal
from bot.ids import Action, StepRef
from bot.playbook import Playbook
from bot.workflows import checklist


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
        await checklist.check_step(deps, _book(deps, ref), ref.i, ref.p, ref.s, ref.a == "done", body["user"]["id"])

    @app.action(re.compile(rf"^{Action.COMPLETE_PHASE}:"))
    @guarded
    async def on_complete(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = _ref(body)
        book = _book(deps, ref)
        if ref.p == len(book.phases) - 1:
            await open_resolve_modal(deps, client, body, ref.i)
            return
        await checklist.complete_phase(deps, book, ref.i, ref.p, body["user"]["id"])

    @app.action(re.compile(rf"^{Action.DETAILS}:"))
    @guarded
    async def on_details(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = _ref(body)
        await client.views_open(trigger_id=body["trigger_id"], view=modals.step_details_modal(_book(deps, ref), ref.p,
                                                                                              ref.s))
