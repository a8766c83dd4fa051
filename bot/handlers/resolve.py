"""Resolving: the modal asking for cause and resolution, and its submit."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import modals, replies
from bot.deps import Deps
from bot.errors import IncidentClosed
from bot.handlers import form_value, guarded
from bot.ids import Callback, IncidentMeta
from bot.replies import tell
from bot.workflows.resolve import resolve


async def open_resolve_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident_id: str) -> None:
    incident = await deps.store.get(incident_id)
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    meta = IncidentMeta(i=incident_id, response_url=body.get("response_url", ""))
    await client.views_open(trigger_id=body["trigger_id"], view=modals.resolve_modal(incident, meta))


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.RESOLVE)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        cause, resolution = form_value(view, "cause"), form_value(view, "resolution")
        errors = {}
        if not cause:
            errors["cause"] = replies.CAUSE_REQUIRED
        if not resolution:
            errors["resolution"] = replies.RESOLUTION_REQUIRED
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = IncidentMeta.model_validate_json(view["private_metadata"])
        resolved, errors_after = await resolve(deps, meta.i, body["user"]["id"], cause, resolution)
        if errors_after:
            await tell(client, body, replies.resolved_partly(resolved.name, errors_after),
                       response_url=meta.response_url)
