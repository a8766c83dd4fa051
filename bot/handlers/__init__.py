"""Slack listeners, one module per area. Each module exposes `register(app, deps)`."""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ackfirst, logs, modals, replies
from bot.deps import Deps
from bot.errors import BadInput, NotAnIncidentChannel
from bot.forms import USER_ID, F
from bot.ids import IncidentMeta
from bot.incident import Incident
from bot.replies import explain, report

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]
ModalOpener = Callable[[Deps, AsyncWebClient, dict[str, Any], Incident], Awaitable[None]]

# Listeners still working after their ack (Bolt runs them on after answering Slack); a shutdown waits
# for them before closing Redis.
_running: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()


def working() -> int:
    """Listeners still running (their ack sent, their work not done)."""
    return sum(1 for t in _running if not t.done())


async def drain(timeout: float) -> int:  # noqa: ASYNC109
    """Wait up to `timeout` s for listeners in flight; how many were still running when it gave up."""
    tasks = [t for t in _running if not t.done() and t is not asyncio.current_task()]
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    return len(pending)


class _AckFirst:
    """A listener's `ack`: Slack is answered at once, and the work that follows waits for the burst of
    requests it came in to be acked (bot/ackfirst.py)."""

    __slots__ = ("_ack", "_patience")

    def __init__(self, ack: Any, patience: ackfirst.Patience) -> None:
        self._ack = ack
        self._patience = patience

    @property
    def response(self) -> Any:
        return self._ack.response

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        answered = await self._ack(*args, **kwargs)
        await ackfirst.after_ack(answered, self._patience)
        return answered


ListenerBody = Callable[[Any, dict[str, Any], AsyncWebClient], Awaitable[None]]


def modal_listener(fn: ListenerBody) -> Listener:
    """`guarded`, for a listener that may open a modal: its work waits less for other acks (the trigger id
    lives 3 seconds)."""
    return guarded(fn, patience=ackfirst.MODAL)


def guarded(fn: ListenerBody, *, patience: ackfirst.Patience = ackfirst.REDRAW) -> Listener:
    """Wrap a listener so every failure reaches the person through the one error handler, and its work
    after the ack comes after other requests' acks (as its `patience` allows)."""

    @functools.wraps(fn)
    async def listener(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        task = asyncio.current_task()
        if task is not None:
            _running.add(task)
        logs.bind(user=str((body.get("user") or {}).get("id") or body.get("user_id") or ""))
        ack = _AckFirst(ack, patience)
        try:
            await fn(ack, body, client)
        except Exception as e:  # noqa: BLE001 - this is the single place errors are reported
            if getattr(ack, "response", None) is None:
                await ack()  # Slack must still hear back within 3 seconds
            await report(client, body, e)

    return listener


def incident_button(app: AsyncApp, deps: Deps, action: str, opens: ModalOpener) -> None:
    """A button whose value names its incident (only a hint) and that opens a modal for the incident of the
    channel it was clicked in."""

    @app.action(action)
    @modal_listener
    async def on_button(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = IncidentMeta.model_validate_json(body["actions"][0]["value"])
        await opens(deps, client, body, await incident_here(deps, body, ref.i))


async def open_first(deps: Deps, client: AsyncWebClient, body: dict[str, Any], title: str,
                     fill: Callable[[Incident], dict[str, Any]]) -> None:
    """A command's modal that shows the incident: opened at once (the trigger id lives 3 seconds, so nothing
    is read before), then the incident read, the view bound to it and filled in. The opened view has no
    submit button, so it can't be submitted before it is bound. What goes wrong is said in the modal."""
    opened = (await client.views_open(trigger_id=body["trigger_id"], view=modals.opening(title)))["view"]
    view_id, view_hash = str(opened["id"]), opened.get("hash") or None  # the hash: no update over a newer one
    await ackfirst.then()  # the trigger id is used: in a burst, filling it in waits for the other acks
    try:
        incident = await incident_here(deps, body)
        view = fill(incident)
        await deps.store.bind_view(view_id, incident.id, body.get("response_url", ""))
    except Exception as e:  # noqa: BLE001 - told in the modal, or else through the one error handler
        try:
            await client.views_update(view_id=view_id, hash=view_hash, view=modals.notice(title, explain(e)))
        except SlackApiError:
            raise e from None
        return
    try:
        await client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as e:
        if e.response.get("error") != "not_found":
            raise
        log.info("modal %s was closed before it was filled in", view_id)  # nothing to tell anyone


def form_value(view: dict[str, Any], block: str) -> str:
    """What a person entered in an input block of a submitted modal (text or selected option), stripped."""
    element = (view.get("state", {}).get("values", {}).get(block) or {}).get("value") or {}
    if element.get("type") == "static_select":
        return str((element.get("selected_option") or {}).get("value") or "")
    if element.get("type") == "checkboxes":
        return ",".join(str(o.get("value") or "") for o in element.get("selected_options") or [])
    return str(element.get("value") or "").strip()


def channel_of(body: dict[str, Any]) -> str:
    """The channel a request came from: the authority on which incident it is about."""
    return str((body.get("channel") or {}).get("id") or body.get("channel_id") or "")


async def incident_here(deps: Deps, body: dict[str, Any], claimed: str | None = None) -> Incident:
    """The incident of the channel a request came from. An id the payload carries (`claimed`) is only a
    hint: when it names another incident, nothing is done."""
    channel = channel_of(body)
    incident_id = await deps.store.incident_for_channel(channel) if channel else None
    if incident_id is None:
        raise NotAnIncidentChannel()
    if claimed is not None and claimed != incident_id:
        raise BadInput(replies.OTHER_INCIDENT)
    logs.bind(incident=incident_id)
    incident = await deps.store.get(incident_id)
    await members_only(deps, incident.channel_id, body)
    return incident


async def members_only(deps: Deps, channel: str, body: dict[str, Any]) -> None:
    """With RESTRICT_TO_MEMBERS, only people in the incident channel may change the incident."""
    if deps.settings.restrict_to_members and not await _is_member(deps, channel, user_of(body)):
        raise BadInput(replies.MEMBERS_ONLY)


async def _is_member(deps: Deps, channel: str, user: str) -> bool:
    cursor = ""
    while True:
        resp = await deps.client.conversations_members(channel=channel, limit=200, cursor=cursor or None)
        if user in resp.get("members", []):
            return True
        cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return False


async def incident_of_view(deps: Deps, body: dict[str, Any], claimed: str) -> tuple[Incident, str] | None:
    """The incident a submitted modal belongs to, by the view id we stored when opening it, and where to
    answer the person (the response_url we stored); None when the modal's own claim disagrees (or it was
    never ours)."""
    bound = await deps.store.view_binding(str(body["view"].get("id") or ""))
    if bound is None or not bound[0] or bound[0] != claimed:
        return None
    logs.bind(incident=bound[0])
    incident = await deps.store.get(bound[0])
    await members_only(deps, incident.channel_id, body)
    return incident, bound[1]


async def submitted(deps: Deps, ack: Any, body: dict[str, Any], form_type: type[F],
                    claimed: str) -> tuple[F, Incident, str] | None:
    """A submitted modal's form, checked, and the incident it was opened for. Anything wrong is answered on
    the form itself (`response_action: errors`) and None returned; otherwise the submit is acked."""
    fields = list(form_type.model_fields)
    form, errors = form_type.read({name: form_value(body["view"], name) for name in fields})
    found = await incident_of_view(deps, body, claimed) if form else None
    if form is not None and found is None:
        errors = {fields[0]: replies.STALE_FORM}
    if form is None or found is None:
        await ack(response_action="errors", errors=errors)
        return None
    await ack()
    return form, found[0], found[1]


def user_of(body: dict[str, Any]) -> str:
    """The person who made the request; never trusted into a mention unless it looks like a Slack id."""
    uid = str((body.get("user") or {}).get("id") or body.get("user_id") or "")
    if not USER_ID.match(uid):
        raise BadInput(replies.BAD_USER)
    return uid
