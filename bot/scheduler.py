"""The escalation worker: every replica runs one; Redis decides who sends each ping, once.

Each tick asks Redis for due items (one script call, cost independent of how many incidents are
open), claims each with a lease, re-checks the incident just before posting and records the ping on
the timeline in that same step, posts, then marks it done. A replica that dies mid-way lets its lease
run out; the next claimant first looks for the earlier post (message metadata) before posting again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, render
from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.incident import Event, Incident
from bot.schedule import ESCALATION, PHASE_OVERDUE, RCA_DUE, Due, is_late, lateness_ms
from bot.store import Claim, new_token

log = logging.getLogger(__name__)

METADATA_TYPE = "incident_escalation"


class Scheduler:
    def __init__(self, deps: Deps, client: AsyncWebClient) -> None:
        self.deps = deps
        self.client = client
        self.owner = new_token()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _run(self) -> None:
        interval = self.deps.settings.scheduler_interval
        while True:
            try:
                await self.tick()
            except StorageUnavailable:
                log.warning("scheduler: Redis unreachable; retrying")
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval)

    async def tick(self) -> int:
        """Claim and start sending everything due now; returns how many were claimed."""
        members = await self.deps.store.due_members()
        lease_ms = int(self.deps.settings.escalation_lease_seconds * 1000)

        async def take(member: str) -> int:
            due = Due.parse(member)
            claim = await self.deps.store.claim(member, due.incident_id, self.owner, lease_ms)
            if claim is None:
                return 0
            task = asyncio.get_running_loop().create_task(self._send(due, claim))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            return 1

        # Claims go out together: one after another, a burst of due pings fell seconds behind.
        return sum(await asyncio.gather(*(take(m) for m in members)))

    async def _send(self, due: Due, claim: Claim) -> None:
        try:
            if due.kind == ESCALATION:
                await self._escalate(due, claim)
            elif due.kind == PHASE_OVERDUE:
                await self._remind(due, claim)
            elif due.kind == RCA_DUE:
                await self._remind_rca(due, claim)
        except Exception:
            # The lease runs out and another attempt follows; the metadata check prevents a double post.
            log.exception("sending %s failed (attempt %s)", claim.member, claim.attempt)

    async def _already_posted(self, channel: str, member: str, since_ms: int) -> bool:
        # A minute of margin: Slack's clock and Redis's need not agree to the millisecond.
        oldest = f"{(since_ms - 60_000) / 1000:.6f}"
        resp = await self.client.conversations_history(channel=channel, oldest=oldest,
                                                       include_all_metadata=True, limit=200)
        messages: list[dict[str, Any]] = resp.get("messages", [])
        for message in messages:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_TYPE and (meta.get("event_payload") or {}).get("id") == member:
                return True
        return False

    async def _escalate(self, due: Due, claim: Claim) -> None:
        store = self.deps.store
        incident = await store.get(due.incident_id)
        book = self.deps.book(incident.playbook)
        if book is None or due.index >= len(book.meta.escalation) or not incident.channel_id:
            await store.finish(claim.member, due.incident_id)
            return
        if claim.attempt > 1 and await self._already_posted(incident.channel_id, claim.member, claim.due_ms):
            await store.finish(claim.member, due.incident_id)
            return
        level = book.meta.escalation[due.index]
        late_after_ms = int(self.deps.settings.late_after_seconds * 1000)
        late_ms = lateness_ms(claim.due_ms, claim.now_ms) if is_late(claim.due_ms, claim.now_ms, late_after_ms) else 0
        event = Event(type="escalated", actor="bot", at=claim.now_ms, id=f"esc:{claim.member}",
                      data={"level": due.index, "message": level.message, "notify": level.notify,
                            "late": bool(late_ms), "late_ms": late_ms})
        confirmed = await store.confirm(claim, due.incident_id, event, set_severity=level.set_severity)
        if confirmed is None:
            return
        roster = self.deps.settings.roster
        targets = [roster[r] for r in level.notify if r in roster]
        unmapped = [r for r in level.notify if r not in roster]
        text, ping = blocks.escalation_ping(confirmed, book, due.index, targets, unmapped, claim.now_ms, late_ms)
        metadata: dict[str, Any] = {"event_type": METADATA_TYPE, "event_payload": {"id": claim.member}}
        await self.client.chat_postMessage(channel=incident.channel_id, text=text, blocks=ping, metadata=metadata)
        await store.finish(claim.member, due.incident_id)
        self.sent += 1
        if confirmed.severity != incident.severity:
            await self._severity_followups(confirmed, book)

    async def _severity_followups(self, incident: Incident, book: Any) -> None:
        try:
            await asyncio.gather(
                render.refresh(self.client, self.deps.store, book, incident.id, "card"),
                self.client.conversations_setTopic(channel=incident.channel_id, topic=blocks.topic(incident, book)),
            )
        except SlackApiError as e:
            log.warning("incident %s: could not show the new severity: %s", incident.id, e.response.get("error"))

    async def _remind(self, due: Due, claim: Claim) -> None:
        store = self.deps.store
        incident = await store.get(due.incident_id)
        book = self.deps.book(incident.playbook)
        if book is None or not incident.channel_id or due.index >= len(book.phases):
            await store.finish(claim.member, due.incident_id)
            return
        if claim.attempt > 1 and await self._already_posted(incident.channel_id, claim.member, claim.due_ms):
            await store.finish(claim.member, due.incident_id)
            return
        event = Event(type="phase_overdue", actor="bot", at=claim.now_ms, id=f"esc:{claim.member}",
                      data={"phase": due.index})
        confirmed = await store.confirm(claim, due.incident_id, event, need_phase=due.index)
        if confirmed is None:
            return
        await self.client.chat_postMessage(
            channel=incident.channel_id, text=blocks.phase_overdue(confirmed, book, due.index),
            metadata={"event_type": METADATA_TYPE, "event_payload": {"id": claim.member}})
        await store.finish(claim.member, due.incident_id)
        self.sent += 1

    # ---- RCA reminders: like phase reminders, but wanted while the RCA is unreviewed, not while open.

    async def _remind_rca(self, due: Due, claim: Claim) -> None:
        store = self.deps.store
        incident = await store.get(due.incident_id)
        if not incident.channel_id or (
                claim.attempt > 1 and await self._already_posted(incident.channel_id, claim.member, claim.due_ms)):
            await store.finish(claim.member, due.incident_id)
            return
        event = Event(type="rca_overdue", actor="bot", at=claim.now_ms, id=f"esc:{claim.member}",
                      data={"commander": incident.commander})
        confirmed = await store.confirm(claim, due.incident_id, event)
        if confirmed is None:
            return
        text, reminder = blocks.rca_reminder(confirmed)
        await self.client.chat_postMessage(
            channel=incident.channel_id, text=text, blocks=reminder,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"id": claim.member}})
        await store.finish(claim.member, due.incident_id)
        self.sent += 1
