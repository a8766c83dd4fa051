"""Resolving: the modal asking for cause and resolution, and its submit."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import modals, replies
from bot.deps import Deps
from bot.errors import IncidentClosed
from bot.forms import ResolveForm
from bot.handlers import guarded, incident_button, open_first, submitted, user_of
from bot.ids import Action, Callback, IncidentMeta
from bot.incident import Incident
from bot.replies import tell
from bot.workflows.resolve import resolve


def resolve_view(incident: Incident) -> dict[str, Any]:
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    return modals.resolve_modal(incident, IncidentMeta(i=incident.id))


async def open_resolve_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident) -> None:
    """From a button, whose incident was read (and checked against its channel) before opening."""
    resp = await client.views_open(trigger_id=body["trigger_id"], view=resolve_view(incident))
    await deps.store.bind_view(str(resp["view"]["id"]), incident.id, body.get("response_url", ""))


async def resolve_command(deps: Deps, client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """`/incident resolve`: the modal opens first, the incident is read after."""
    await open_first(deps, client, body, modals.RESOLVE_TITLE, resolve_view)


def register(app: AsyncApp, deps: Deps) -> None:
    # The Resolve button under "All alerts resolved".
    incident_button(app, deps, Action.RESOLVE, open_resolve_modal)

    @app.view(Callback.RESOLVE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        meta = IncidentMeta.model_validate_json(body["view"]["private_metadata"])
        done = await submitted(deps, ack, body, ResolveForm, meta.i)
        if done is None:
            return
        form, incident, response_url = done
        resolved, errors_after = await resolve(deps, incident.id, user_of(body), form.cause, form.resolution)
        if errors_after:
            await tell(client, body, replies.resolved_partly(resolved.name, errors_after),
                       response_url=response_url)
