"""Status updates (`/incident status`, the card's button, the modal) and marking the RCA reviewed."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, rca, status
from bot.deps import Deps
from bot.errors import BadInput, IncidentClosed
from bot.handlers import guarded
from bot.ids import Action, Callback, IncidentMeta, StatusMeta
from bot.incident import RCA_REVIEWED, Incident
from bot.replies import tell


async def open_status_modal(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident_id: str) -> None:
    """The update proposed for where the incident stands, ready to edit. One Redis read, then views.open."""
    incident = await deps.store.get(incident_id)
    if not incident.is_open:
        raise IncidentClosed(incident.name)
    kind = status.next_kind(incident)
    proposed = status.render(deps, incident, kind, now_ms=deps.clock())
    meta = StatusMeta(i=incident.id, k=kind, h=status.fingerprint(proposed.plain.strip()),
                      response_url=body.get("response_url", ""))
    view = blocks.status_modal(incident, kind, proposed.plain, meta, deps.settings.status_channel)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def _value(values: dict[str, Any], block: str) -> str:
    return str((values.get(block, {}).get("value") or {}).get("value") or "").strip()


async def status_command(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                         text: str) -> None:
    await open_status_modal(deps, client, body, incident.id)


async def rca_command(deps: Deps, client: AsyncWebClient, body: dict[str, Any], incident: Incident,
                      text: str) -> None:
    """`/incident rca reviewed` marks it; `/incident rca` says where it stands."""
    if text.lower() == "reviewed":
        await rca.mark_reviewed(deps, client, incident.id, body["user_id"])
        return
    if text:
        raise BadInput("Use `/incident rca` to see where the RCA stands, or `/incident rca reviewed` to mark it.")
    if incident.is_open:
        message = f"The RCA for {incident.name} is drafted when the incident is resolved."
    elif incident.rca_status == RCA_REVIEWED:
        message = f"The RCA for {incident.name} was marked reviewed by <@{incident.rca_reviewed_by}>."
    else:
        message = (f"The RCA for {incident.name} is due {blocks.when(incident.rca_due_at)}. "
                   "Mark it with `/incident rca reviewed` once the team has reviewed it.")
    await tell(client, body, message)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(Action.STATUS_UPDATE)
    @guarded
    async def on_button(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = IncidentMeta.model_validate_json(body["actions"][0]["value"])
        await open_status_modal(deps, client, body, ref.i)

    @app.view(Callback.STATUS)
    @guarded
    async def on_submit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        values = view["state"]["values"]
        text, eta = _value(values, "text"), _value(values, "eta")
        if not text:
            await ack(response_action="errors", errors={"text": "Write the update, or cancel."})
            return
        await ack()
        meta = StatusMeta.model_validate_json(view["private_metadata"])
        user = body["user"]["id"]
        incident = await deps.store.get(meta.i)
        if not incident.is_open:
            raise IncidentClosed(incident.name)
        if status.fingerprint(text) == meta.h:
            # Left as proposed: fill it in again, now with the ETA and the time of posting.
            update = status.render(deps, incident, status.next_kind(incident), now_ms=deps.clock(), eta=eta)
        else:
            update = status.typed(meta.k, text)
        recorded, failures = await status.publish(deps, client, incident, update, user, f"status:{view['id']}")
        if recorded is not None and failures:
            await tell(client, body, f"The status update for {incident.name} is recorded, but posting it partly "
                       f"failed ({'; '.join(failures)}).", response_url=meta.response_url)

    @app.action(Action.RCA_REVIEWED)
    @guarded
    async def on_reviewed(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = IncidentMeta.model_validate_json(body["actions"][0]["value"])
        user = body["user"]["id"]
        incident = await rca.mark_reviewed(deps, client, ref.i, user)
        message = body.get("message") or {}
        if message.get("ts"):
            await client.chat_update(channel=body["channel"]["id"], ts=message["ts"], text=message.get("text", ""),
                                     blocks=blocks.rca_button_done(message.get("blocks", []), user,
                                                                   incident.rca_reviewed_at))
