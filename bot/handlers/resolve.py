"""Resolving: the modal asking for cause and resolution, and its submit."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import modals, replies
from bot.deps import Deps
from bot.errors import IncidentClosed
from bot.forms import ResolveForm
from bot.handlers import form_value, guarded, incident_of_view, user_of
from bot.ids import Callback, IncidentMeta
from bot.incident import Incident
from bot.replies import tell
from bot.workflows.resolve import resolve


async def open_resolve_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident) -> None:
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    meta = IncidentMeta(i=incident.id, response_url=body.get("response_url", ""))
    resp = await client.views_open(trigger_id=body["trigger_id"], view=modals.resolve_modal(incident, meta))
    await deps.store.bind_view(str(resp["view"]["id"]), incident.id)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.RESOLVE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        form, errors = ResolveForm.read({"cause": form_value(view, "cause"),
                                         "resolution": form_value(view, "resolution")})
        meta = IncidentMeta.model_validate_json(view["private_metadata"])
        incident = await incident_of_view(deps, body, meta.i) if form else None
        if form and incident is None:
            errors = {"cause": replies.STALE_FORM}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        assert form is not None and incident is not None
        resolved, errors_after = await resolve(deps, incident.id, user_of(body), form.cause, form.resolution)
        if errors_after:
            await tell(client, body, replies.resolved_partly(resolved.name, errors_after),
                       response_url=meta.response_url)
