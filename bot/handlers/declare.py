"""`/incident <playbook>`: the modal, and its submit."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import ackfirst, forms, modals, replies
from bot.attempts import attempt_all, listed
from bot.deps import Deps
from bot.errors import IncidentGone, StorageUnavailable
from bot.handlers import form_value, guarded, modal_listener, user_of
from bot.ids import Action, AlertRef, Callback, DeclareMeta
from bot.incident import Source, incident_name
from bot.playbook import Playbook
from bot.replies import tell
from bot.workflows import alerts, declare

# What a declare modal opened from an alert group's suggestion is bound to (keys.view), checked on submit.
ALERT_VIEW = "alert:"

log = logging.getLogger(__name__)


async def open_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], book: Playbook, text: str) -> None:
    # No Redis or other call before views.open: the trigger id lives three seconds.
    title, private = forms.private_flag(text)
    meta = DeclareMeta(playbook=book.key, channel=body.get("channel_id", ""))
    resp = await client.views_open(trigger_id=body["trigger_id"],
                                   view=modals.declare_modal(book, title, meta, private=private))
    await ackfirst.then()  # the trigger id is used: in a burst the rest waits for the other acks
    # Where to answer once it is submitted: kept here, not in the modal's metadata a client could alter.
    await deps.store.bind_view(str(resp["view"]["id"]), "", body.get("response_url", ""))


async def _binding(deps: Deps, view_id: str) -> tuple[str, str] | None:
    """What the modal was opened for; None too when Redis is away (the create that follows says so)."""
    try:
        return await deps.store.view_binding(view_id)
    except StorageUnavailable:
        return None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(Action.ALERT_DECLARE)
    @modal_listener
    async def on_suggestion(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        """"Declare incident" under an alert suggestion: the declare modal, prefilled from the alerts."""
        await ack()
        ref = AlertRef.model_validate_json(body["actions"][0]["value"])
        channel = str((body.get("channel") or {}).get("id") or "")
        state = await alerts.suggestion(deps, ref.g, channel, str((body.get("message") or {}).get("ts") or ""))
        book = deps.book(state.get("playbook", ""))
        if book is None:
            raise IncidentGone()
        meta = DeclareMeta(playbook=book.key, channel=channel, g=ref.g)
        view = modals.declare_modal(book, state.get("title", ""), meta, service=state.get("service", ""),
                                    description=state.get("description", ""))
        resp = await client.views_open(trigger_id=body["trigger_id"], view=view)
        await deps.store.bind_view(str(resp["view"]["id"]), ALERT_VIEW + ref.g, body.get("response_url", ""))

    @app.view(Callback.DECLARE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        meta = DeclareMeta.model_validate_json(view["private_metadata"])
        book = deps.book(meta.playbook)
        if book is None:
            await ack(response_action="errors", errors={"title": replies.playbook_gone(forms.echo(meta.playbook))})
            return
        bound = await _binding(deps, str(view.get("id") or ""))
        if meta.g and (bound is None or bound[0] != ALERT_VIEW + meta.g):
            await ack(response_action="errors", errors={"title": replies.STALE_FORM})
            return
        form, errors = forms.DeclareForm.read({
            "title": form_value(view, "title"), "severity": form_value(view, "severity") or book.meta.severity,
            "service": form_value(view, "service"), "description": form_value(view, "description"),
            "private": form_value(view, "private")})
        if form is None:
            await ack(response_action="errors", errors=errors)
            return
        # Store before answering: if Redis is down the modal stays open and says so, nothing is lost.
        try:
            source = Source.SUGGESTED if meta.g else Source.SLASH
            created, incident_id = await declare.create(deps, book, form, user_of(body), view["id"], source)
        except StorageUnavailable as e:
            await ack(response_action="errors", errors={"title": replies.could_not_declare(e.user_message)})
            return
        await ack()
        response_url = bound[1] if bound else ""
        try:
            if not await declare.needs_set_up(deps, incident_id, created):
                log.info("declare modal %s submitted again; incident %s is set up already", view["id"], incident_id)
                return
            if meta.g:
                await alerts.link(deps, meta.g, incident_id)
            done = await declare.set_up(deps, incident_id, book)
        except StorageUnavailable as e:  # the incident is stored: "nothing was changed" would be untrue
            await tell(client, body, replies.set_up_interrupted(incident_name(incident_id), e.reason or "no answer"),
                       response_url=response_url)
            return
        if not done.channel_id:
            await tell(client, body, replies.not_declared(done.incident.name, done.error),
                       response_url=response_url)
        elif done.failed:
            message = replies.declared_partly(done.incident.name, done.channel_id, listed(done.failed))
            await tell(client, body, message, response_url=response_url)
            await attempt_all(incident_id, {"tell the channel": client.chat_postMessage(channel=done.channel_id,
                                                                                   text=message)})
