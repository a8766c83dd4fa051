"""`/incident <playbook>`: the modal, and its submit."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import forms, modals, replies
from bot.attempts import attempt_all, listed
from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.handlers import form_value, guarded, user_of
from bot.ids import Callback, DeclareMeta
from bot.playbook import Playbook
from bot.replies import tell
from bot.workflows import declare

log = logging.getLogger(__name__)


async def open_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], book: Playbook, text: str) -> None:
    # No Redis or other call before views.open: the trigger id lives three seconds.
    title, private = forms.private_flag(text)
    meta = DeclareMeta(playbook=book.key, channel=body.get("channel_id", ""))
    resp = await client.views_open(trigger_id=body["trigger_id"],
                                   view=modals.declare_modal(book, title, meta, private=private))
    # Where to answer once it is submitted: kept here, not in the modal's metadata a client could alter.
    await deps.store.bind_view(str(resp["view"]["id"]), "", body.get("response_url", ""))


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.DECLARE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        meta = DeclareMeta.model_validate_json(view["private_metadata"])
        book = deps.book(meta.playbook)
        if book is None:
            await ack(response_action="errors", errors={"title": replies.playbook_gone(forms.echo(meta.playbook))})
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
            created, incident_id = await declare.create(deps, book, form, user_of(body), view["id"])
        except StorageUnavailable as e:
            await ack(response_action="errors", errors={"title": replies.could_not_declare(e.user_message)})
            return
        await ack()
        if not created:
            log.info("declare modal %s submitted again; incident %s already exists", view["id"], incident_id)
            return
        bound = await deps.store.view_binding(str(view["id"]))
        response_url = bound[1] if bound else ""
        done = await declare.set_up(deps, incident_id, book)
        if not done.channel_id:
            await tell(client, body, replies.not_declared(done.incident.name, done.error),
                       response_url=response_url)
        elif done.failed:
            message = replies.declared_partly(done.incident.name, done.channel_id, listed(done.failed))
            await tell(client, body, message, response_url=response_url)
            await attempt_all(incident_id, {"tell the channel": client.chat_postMessage(channel=done.channel_id,
                                                                                   text=message)})
