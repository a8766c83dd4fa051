"""Phase checklists: Done / Undo on a step, Complete on a phase, a step's details."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs, modals, replies
from bot.deps import Deps
from bot.errors import BadInput, IncidentGone, NotAnIncidentChannel
from bot.handlers import channel_of, guarded, incident_here, members_only, modal_listener, user_of
from bot.handlers.resolve import open_resolve_modal
from bot.ids import Action, StepRef
from bot.incident import Incident
from bot.playbook import Playbook
from bot.workflows import checklist


def _ref(body: dict[str, Any]) -> StepRef:
    action = body["actions"][0]
    return StepRef.model_validate_json(action.get("value") or (action.get("selected_option") or {}).get("value")
                                       or "{}")


def _in_playbook(ref: StepRef, book: Playbook | None, *, step: bool) -> Playbook:
    """The claimed playbook, when the claimed phase (and step) are in it."""
    if book is None or not 0 <= ref.p < len(book.phases) or (step and not 0 <= ref.s < len(book.phases[ref.p].steps)):
        raise BadInput(replies.OTHER_INCIDENT)
    return book


async def _target(deps: Deps, body: dict[str, Any], *, step: bool) -> tuple[StepRef, Incident, Playbook]:
    """The button's step or phase, checked against the incident of the channel it was clicked in."""
    ref = _ref(body)
    incident = await incident_here(deps, body, ref.i)
    book = deps.book(incident.playbook)
    if book is None:
        raise IncidentGone()
    if ref.b and ref.b != incident.playbook:
        raise BadInput(replies.OTHER_INCIDENT)
    return ref, incident, _in_playbook(ref, book, step=step)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(re.compile(rf"^{Action.STEP}:"))
    @guarded
    async def on_step(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        # The hot path: no look-up before the one script, which checks the channel and the claimed ids itself.
        await ack()
        ref = _ref(body)
        book = _in_playbook(ref, deps.book(ref.b), step=True)
        channel = channel_of(body)
        if not channel:
            raise NotAnIncidentChannel()
        await members_only(deps, channel, body)
        logs.bind(incident=ref.i)
        await checklist.click_step(deps, book, ref, channel, user_of(body))

    @app.action(re.compile(rf"^{Action.COMPLETE_PHASE}:"))
    @modal_listener
    async def on_complete(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref, incident, book = await _target(deps, body, step=False)
        if ref.p == len(book.phases) - 1:
            await open_resolve_modal(deps, client, body, incident)
            return
        await checklist.complete_phase(deps, book, incident.id, ref.p, user_of(body))

    @app.action(re.compile(rf"^{Action.DETAILS}:"))
    @modal_listener
    async def on_details(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref, _, book = await _target(deps, body, step=True)
        await client.views_open(trigger_id=body["trigger_id"], view=modals.step_details_modal(book, ref.p, ref.s))
