"""Status updates (`/incident status`, the card's button, the modal) and marking the RCA reviewed."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import modals, replies
from bot.deps import Deps
from bot.errors import BadInput, IncidentClosed
from bot.forms import StatusForm
from bot.handlers import guarded, incident_button, incident_here, open_first, submitted, user_of
from bot.ids import Action, Callback, IncidentMeta, StatusMeta
from bot.incident import Incident, RcaStatus
from bot.kit import when
from bot.replies import tell
from bot.workflows import rca, status


def status_view(deps: Deps, incident: Incident) -> dict[str, Any]:
    """The update proposed for where the incident stands, ready to edit."""
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    kind = status.next_kind(incident)
    proposed = status.render(deps, incident, kind, now_ms=deps.clock())
    meta = StatusMeta(i=incident.id, k=kind, h=status.fingerprint(proposed.plain.strip()))
    return modals.status_modal(incident, kind, proposed.plain, meta, deps.settings.status_channel)


async def open_status_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident) -> None:
    """From the card's button, whose incident was read (and checked against its channel) before opening."""
    resp = await client.views_open(trigger_id=body["trigger_id"], view=status_view(deps, incident))
    await deps.store.bind_view(str(resp["view"]["id"]), incident.id, body.get("response_url", ""))


async def status_command(deps: Deps, client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """`/incident status`: the modal opens first; the incident is read and the update rendered after."""
    await open_first(deps, client, body, modals.STATUS_TITLE, lambda incident: status_view(deps, incident))


async def rca_command(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                      text: str) -> None:
    """`/incident rca reviewed` marks it; `/incident rca` says where it stands."""
    if text.lower() == "reviewed":
        await rca.mark_reviewed(deps, incident.id, user_of(body))
        return
    if text:
        raise BadInput(replies.RCA_USAGE)
    reviewed_by = incident.rca_reviewed_by if incident.rca_status == RcaStatus.REVIEWED else ""
    await tell(client, body, replies.rca_standing(incident.name, incident.is_open, reviewed_by,
                                                  when(incident.rca_due_at)))


def register(app: AsyncApp, deps: Deps) -> None:
    incident_button(app, deps, Action.STATUS_UPDATE, open_status_modal)

    @app.view(Callback.STATUS)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        meta = StatusMeta.model_validate_json(view["private_metadata"])
        done = await submitted(deps, ack, body, StatusForm, meta.i)
        if done is None:
            return
        form, incident, response_url = done
        text, eta = form.text, form.eta
        if not incident.is_open:
            raise IncidentClosed(incident.name)
        if status.fingerprint(text) == meta.h:
            # Left as proposed: fill it in again, now with the ETA and the time of posting.
            update = status.render(deps, incident, status.next_kind(incident), now_ms=deps.clock(), eta=eta)
        else:
            # The kind is the server's to decide (where the incident stands), never the form's.
            update = status.typed(status.next_kind(incident), text)
        recorded, failures = await status.publish(deps, incident, update, user_of(body), f"status:{view['id']}")
        if recorded is not None and failures:
            await tell(client, body, replies.status_partly(incident.name, failures), response_url=response_url)

    @app.action(Action.RCA_REVIEWED)
    @guarded
    async def on_reviewed(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = IncidentMeta.model_validate_json(body["actions"][0]["value"])
        incident = await incident_here(deps, body, ref.i)
        await rca.mark_reviewed(deps, incident.id, user_of(body))
