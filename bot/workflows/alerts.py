"""What an alert group does: declare its playbook (or suggest it), then follow the incident.

`receive` runs in the webhook request: it picks the playbook and stores the delivery (with the group queued)
in one step, before Alertmanager is answered. `process` runs in whichever replica's scheduler claims the
group: it records every stored delivery in order, idempotently (each alert state once per incident), then
posts the notes that recording left. Redis decides what is new, so two Alertmanagers sending the same
notification to two replicas at once still open one incident and post each note once.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import blocks, forms, logs, metrics, parts
from bot.alerts import Delivery, Notification, choose_playbook, delivery, group_id, label_sets, seen_key
from bot.claims import Claim
from bot.deps import Deps
from bot.errors import BadInput, IncidentGone
from bot.forms import DeclareForm
from bot.incident import Source, Status
from bot.playbook import Playbook
from bot.replies import SUGGESTION_STALE, alert_already_declared
from bot.sync import adopt, find_posted, post, sync
from bot.workflows import declare

log = logging.getLogger(__name__)

ACTOR = "alert"  # who the timeline says did what an alert did
NOTE_METADATA = "incident_alert_note"
# A note Slack refused is tried again this much later (the claim's attempts bound how often).
RETRY_MS = 5000
# Alerts a group keeps for its card; more still reach the timeline and the notes.
MAX_ROWS = 100
# begin/link compare-and-set on the group's incident; a concurrent change means read again.
ATTEMPTS = 3


async def receive(deps: Deps, notification: Notification) -> str | None:
    """Store the delivery for processing and return its group, or None when no playbook matches."""
    book = choose_playbook(deps.playbooks, label_sets(notification))
    if book is None:
        name = forms.echo(notification.commonLabels.get("alertname") or notification.alerts[0].labels.get(
            "alertname", ""))
        log.info("alert group %s (%s, %d alert(s)) matches no playbook; ignored", group_id(notification.groupKey)[:8],
                 name or "no alertname", len(notification.alerts))
        metrics.ALERT_NOTIFICATIONS.labels(outcome="unmatched").inc()
        return None
    group = group_id(notification.groupKey)
    await deps.store.alert_enqueue(group, notification.groupKey, delivery(notification, book).model_dump_json())
    metrics.ALERT_NOTIFICATIONS.labels(outcome="queued").inc()
    return group


async def process(deps: Deps, group: str, claim: Claim) -> None:
    """Record every delivery stored for `group`, oldest first, then post what is left to post."""
    last = 0
    for seq, raw in await deps.store.alert_inbox(group):
        await _apply(deps, group, Delivery.model_validate_json(raw), claim)
        last = seq
    posted = await _post_notes(deps, group, claim)
    await deps.store.alert_finish(group, claim, last, None if posted else claim.now_ms + RETRY_MS)


async def _apply(deps: Deps, group: str, d: Delivery, claim: Claim) -> None:
    book = deps.book(d.playbook)
    if book is None:
        log.warning("alert group %s: playbook %r is no longer loaded; delivery dropped", group[:8], d.playbook)
        return
    firing = [seen_key(a) for a in d.firing]
    for _ in range(ATTEMPTS):
        expected = (await deps.store.alert_group(group)).get("incident", "")
        outcome, incident_id = await deps.store.alert_begin(group, expected, book.meta.alert_mode, firing)
        if outcome != "retry":
            break
    else:
        raise RuntimeError(f"alert group {group[:8]} kept changing")
    if outcome == "quiet":
        return  # its incident is closed and nothing fires anew: a re-send, or the resolved notification
    if outcome in ("suggest", "suggested"):
        await _record(deps, group, "", d, redraw_card=False)
        await _suggest(deps, group, book, d)
        return
    logs.bind(incident=incident_id, playbook=book.key)
    created = False
    try:
        incident = await deps.store.get(incident_id)
    except IncidentGone:  # a new cycle (or one whose declare was cut short): declare it as /incident would
        form, _ = DeclareForm.read({"title": d.title, "severity": book.meta.severity, "service": d.service,
                                    "description": d.description})
        assert form is not None, "a delivery is cleaned to the form's limits when received"
        created, _ = await declare.create(deps, book, form, "", f"alert:{group}:{incident_id}", Source.ALERT,
                                          incident_id=incident_id,
                                          extra={"alert_group": group, "alert_url": d.url})
        incident = await deps.store.get(incident_id)
    recorded = await _record(deps, group, incident_id, d, redraw_card=not created)
    # Set up by this replica once; again only when an earlier attempt died between storing and setting up.
    if created or (incident.source == Source.ALERT and incident.is_open and not incident.channel_id
                   and claim.attempt > 1):
        done = await declare.set_up(deps, incident_id, book)
        if done.error:
            log.warning("alert group %s: %s could not be declared: %s", group[:8], incident.name, done.error)
    elif recorded:
        await sync(deps, incident_id, [parts.CARD])


async def _record(deps: Deps, group: str, incident_id: str, d: Delivery, *, redraw_card: bool) -> bool:
    """Record the delivery's alert states; True when the incident's alerts changed."""
    alerts = [(seen_key(a), a.model_dump_json()) for a in d.alerts]
    # The card is marked with the write: if this replica dies before drawing it, a retry of the delivery finds
    # nothing changed and would not draw it either; the sweep does. Not for an incident just created: its
    # set-up posts the card (a mark could let the sweep post it too), nor without an incident.
    recorded = await deps.store.alert_record(group, incident_id, d.status, alerts, actor=ACTOR, at=deps.clock(),
                                             max_rows=MAX_ROWS, redraw=[parts.CARD] if redraw_card else ())
    return recorded.linked and recorded.changed


async def _suggest(deps: Deps, group: str, book: Playbook, d: Delivery) -> None:
    """Post the suggestion once per cycle: the group remembers where, and what the modal is prefilled with."""
    state = await deps.store.alert_group(group)
    if state.get("suggest_ts") or state.get("suggested") != "1":
        return
    channel = deps.settings.announce_channel
    if not channel:
        log.warning("alert group %s: %s suggests incidents, but ANNOUNCE_CHANNEL is not set", group[:8], book.key)
        return
    text, body = blocks.alert_suggestion(book, group, d.title, d.firing, d.url)
    resp = await deps.client.chat_postMessage(channel=channel, text=text, blocks=body)
    await deps.store.alert_suggested(group, {
        "suggest_ts": str(resp["ts"]), "suggest_channel": str(resp["channel"]), "playbook": book.key,
        "title": d.title, "service": d.service, "description": d.description, "url": d.url})


async def _post_notes(deps: Deps, group: str, claim: Claim) -> bool:
    """Post the notes the group's incident has not shown yet; False when some are left for later."""
    incident_id = (await deps.store.alert_group(group)).get("incident", "")
    if not incident_id:
        return True
    try:
        incident = await deps.store.get(incident_id)
    except IncidentGone:
        return True
    pending = sorted(n for n in incident.alert_note if n not in incident.alert_note_ts)
    if not pending or not incident.channel_id:
        # No channel: wait while it is being set up; a declare that failed has nowhere to post.
        return not pending or incident.status != Status.OPEN
    for n in pending:
        part, item = parts.alert_note(n), f"{incident.id}:{n}"
        try:
            # An earlier attempt may have posted and died before keeping the ts: look before posting again.
            ts = await find_posted(deps, incident.channel_id, claim.due_ms, NOTE_METADATA, item) \
                if claim.attempt > 1 else ""
            if ts:
                await adopt(deps, incident.id, part, ts)
            else:
                await post(deps, incident, part, incident.channel_id,
                           {"event_type": NOTE_METADATA, "event_payload": {"id": item}})
        except SlackApiError as e:
            log.warning("incident %s: posting alert note %d failed (%s); retrying", incident.id, n,
                        e.response.get("error"))
            return False
    return True


async def suggestion(deps: Deps, group: str, channel: str, ts: str) -> dict[str, str]:
    """The group behind a clicked suggestion, checked: the click came from the group's current suggestion
    message, and no incident of the group is open. BadInput says why not."""
    state = await deps.store.alert_group(group)
    if not state.get("suggest_ts") or (state.get("suggest_channel"), state.get("suggest_ts")) != (channel, ts):
        raise BadInput(SUGGESTION_STALE)
    incident_id = state.get("incident", "")
    if incident_id:
        try:
            incident = await deps.store.get(incident_id)
        except IncidentGone:
            incident = None
        if incident is None or incident.is_open:
            raise BadInput(alert_already_declared(incident.channel_id if incident else ""))
    return state


async def link(deps: Deps, group: str, incident_id: str) -> bool:
    """The incident a person declared from the group's suggestion follows the group from now on; False when
    another incident of the group was open by then."""
    for _ in range(ATTEMPTS):
        expected = (await deps.store.alert_group(group)).get("incident", "")
        outcome, other = await deps.store.alert_link(group, incident_id, expected, actor=ACTOR, at=deps.clock())
        if outcome == "ok":
            return True
        if outcome == "taken":
            log.info("alert group %s already follows incident %s; %s is not linked", group[:8], other, incident_id)
            return False
        if outcome == "gone":
            return False
    return False
