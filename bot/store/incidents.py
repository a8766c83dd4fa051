"""The incident itself: its number, fields, steps, phases and acknowledgements, status updates and RCA
review, each changed by one script; the channel and modals it is bound to; and the open incidents."""

from __future__ import annotations

import json
from collections.abc import Iterable

from redis.asyncio.client import Pipeline

from bot import keys
from bot.claims import wanted
from bot.errors import IncidentGone
from bot.incident import Event, Incident
from bot.parts import Part
from bot.schedule import Due
from bot.store.base import StoreBase, marks
from bot.store.drawing import RENDER_LOCK_MS
from bot.store.errors import storage_errors
from bot.store.results import Drawing, Outcome, check, outcome, snapshot, stepped

IDEM_TTL_S = 86400


class IncidentStore(StoreBase):
    """An incident's state and what it is bound to. Mixed into Store."""

    @storage_errors
    async def next_incident_id(self) -> str:
        # Confirmed, so that a primary promoted later never hands out the same number again.
        return str((await self.link.writes.commands(lambda p: p.incr(keys.incident_seq()), retry_safe=True))[0])

    @storage_errors
    async def create_incident(self, incident_id: str, request_token: str, fields: dict[str, str],
                              event: Event, plan: dict[Due, int] | None = None) -> tuple[bool, str]:
        """Store a new incident, with what `plan` schedules for it, unless this request already made one:
        (created, incident id)."""
        plan = plan or {}
        if any(wanted(due).due_set != keys.due() for due in plan):
            raise ValueError("an incident's plan holds only escalations, phase windows and targets")
        res = await self.scripts.create(incident_id, request_token, IDEM_TTL_S, fields, event,
                                        {due.member: at for due, at in plan.items()})
        return res[0] == "ok", str(res[1])

    @storage_errors
    async def get(self, incident_id: str) -> Incident:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.incident(incident_id))
            pipe.hgetall(keys.steps(incident_id))
            fields, steps = await pipe.execute()
        if not fields:
            raise IncidentGone()
        return Incident.from_redis(fields, steps)

    @storage_errors
    async def get_many(self, incident_ids: Iterable[str]) -> dict[str, Incident]:
        """Several incidents in one round trip (the scheduler's batch); those that are gone are left out."""
        ids = list(incident_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for incident_id in ids:
                pipe.hgetall(keys.incident(incident_id))
                pipe.hgetall(keys.steps(incident_id))
            res = await pipe.execute()
        return {i: Incident.from_redis(f, st) for i, f, st in zip(ids, res[::2], res[1::2], strict=True) if f}

    @storage_errors
    async def incident_for_channel(self, channel_id: str) -> str | None:
        value = await self.redis.get(keys.channel(channel_id))
        return str(value) if value else None

    @storage_errors
    async def bind_view(self, view_id: str, incident_id: str, response_url: str) -> None:
        """Remember what a modal we opened is for, so its submit is checked against this, not its metadata."""
        value = json.dumps({"i": incident_id, "r": response_url})
        await self.link.writes.commands(lambda p: p.set(keys.view(view_id), value, ex=IDEM_TTL_S), retry_safe=True)

    @storage_errors
    async def left_without_channel(self, older_than_ms: int, limit: int = 10) -> list[str]:
        """Incidents stored more than `older_than_ms` ago whose channel is still not linked."""
        before = await self._now_ms() - older_than_ms
        return [str(x) for x in await self.redis.zrangebyscore(keys.without_channel(), "-inf", before, 0, limit)]

    @storage_errors
    async def forget_without_channel(self, incident_id: str) -> None:
        await self.link.writes.commands(lambda p: p.zrem(keys.without_channel(), incident_id), retry_safe=True)

    @storage_errors
    async def take_set_up(self, incident_id: str, ttl_s: int) -> bool:
        """True for the one request that is to set the incident's channel up (for `ttl_s`)."""
        answers = await self.link.writes.commands(
            lambda p: p.set(keys.setting_up(incident_id), "1", nx=True, ex=ttl_s), retry_safe=False)
        return bool(answers[0])

    @storage_errors
    async def view_binding(self, view_id: str) -> tuple[str, str] | None:
        """(incident id, response_url) of a modal we opened, or None."""
        value = await self.redis.get(keys.view(view_id))
        if not value:
            return None
        data = json.loads(value)
        return str(data.get("i", "")), str(data.get("r", ""))

    @storage_errors
    async def link_channel(self, incident_id: str, channel_id: str, channel_name: str,
                           event: Event | None = None) -> Incident:
        """The incident's channel, both ways; safe to repeat (the channel's key first: alone it changes nothing)."""
        def fill(pipe: Pipeline) -> None:
            pipe.set(keys.channel(channel_id), incident_id)
            pipe.zrem(keys.without_channel(), incident_id)

        await self.link.writes.commands(fill, retry_safe=True)
        return (await self.set_fields(incident_id, {"channel_id": channel_id, "channel_name": channel_name},
                                      event))[1]

    @storage_errors
    async def set_fields(self, incident_id: str, fields: dict[str, str], event: Event | None = None,
                         *, require_open: bool = False, redraw: Iterable[Part] = ()) -> tuple[bool, Incident]:
        """Set fields atomically, bump the version if anything changed, log `event` if given. `redraw`: the
        parts the caller draws next, marked dirty first (here and below), so that the sweep draws them should
        this process die before it does."""
        res = await self.scripts.set_fields(incident_id, fields, event, require_open, marks(incident_id, redraw))
        check(res[0], incident_id)
        return bool(res[1]), snapshot(res[2], res[3])

    async def add_event(self, incident_id: str, event: Event, *, require_open: bool = False) -> Incident:
        return (await self.set_fields(incident_id, {}, event, require_open=require_open))[1]

    @storage_errors
    async def step(self, incident_id: str, phase: int, index: int, done: bool, event: Event) -> Outcome:
        """"ok" (changed), "same" (already so) or "stale_phase" (that phase is closed)."""
        res = await self.scripts.step(incident_id, phase, index, "done" if done else "undo", event)
        check(res[0], incident_id)
        return stepped(res, event.at)[0]

    @storage_errors
    async def click_step(self, incident_id: str, channel: str, playbook: str, phase: int, index: int, done: bool,
                         event: Event, part: str, member: str, token: str) -> tuple[Outcome, Drawing | None]:
        """A Done/Undo click in `channel`, and `part` locked with `token` to draw it, in one round trip. Beside
        step's: "not_incident" (the channel is no incident's) and "other" (another incident's, or playbook's)."""
        res = await self.scripts.step(incident_id, phase, index, "done" if done else "undo", event, channel=channel,
                                      playbook=playbook, part=part, member=member, token=token,
                                      lock_ms=RENDER_LOCK_MS)
        check(res[0], incident_id)
        return stepped(res, event.at)

    @storage_errors
    async def complete_phase(self, incident_id: str, phase: int, nsteps: int, event: Event, *,
                             last: bool = False, cause: str = "", resolution: str = "",
                             unschedule: list[str] | None = None, rca_due_ms: int = 0,
                             redraw: Iterable[Part] = (), post_next: Part | None = None,
                             posting_ms: int = 0) -> Incident | None:
        """Close `phase`; None when it was already closed (a second click, another replica). Closing the
        `last` phase resolves the incident and makes its RCA due at `rca_due_ms`. `post_next`: the part the
        caller posts next (the next checklist), marked as being posted for `posting_ms` with the change."""
        res = await self.scripts.complete(incident_id, phase, nsteps, last, event, cause, resolution,
                                          Due.rca(incident_id).member, rca_due_ms, unschedule or [],
                                          marks(incident_id, redraw, post_next, posting_ms))
        check(res[0], incident_id)
        return None if res[0] == "stale_phase" else snapshot(res[1], res[2])

    @storage_errors
    async def acknowledge(self, incident_id: str, levels: list[int], event: Event, *,
                          page_roles: list[str] | None = None, note: bool = False,
                          redraw: Iterable[Part] = ()) -> Outcome:
        """Mark the sent, unacknowledged `levels` acknowledged by `event.actor`: "ok" (with the levels marked),
        "already" (with who), "not_sent" (none was posted) or "dup" (this event id was recorded before).
        `page_roles`: tell PagerDuty too, for those that were paged. `note`: record the event even when no
        level changed (an acknowledgement in PagerDuty of a page no level sent)."""
        res = await self.scripts.acknowledge(incident_id, levels, event, page_roles or [], note,
                                             marks(incident_id, redraw))
        check(res[0], incident_id)
        return outcome(res, event.at)

    @storage_errors
    async def note_once(self, incident_id: str, event: Event) -> bool:
        """Put an outside event on the timeline unless its id is there already; True when it was new."""
        return bool(await self.scripts.note(incident_id, event))

    @storage_errors
    async def abandon(self, incident_id: str, event: Event) -> None:
        await self.scripts.abandon(incident_id, event)

    @storage_errors
    async def open_counts(self) -> dict[str, int]:
        """Open incidents per playbook."""
        return {str(k): int(v) for k, v in (await self.redis.hgetall(keys.open_by_playbook())).items()}

    @storage_errors
    async def open_incident_ids(self) -> set[str]:
        return {str(x) for x in await self.redis.smembers(keys.open_incidents())}

    # ------------------------------------------------------------ status updates and the RCA

    @storage_errors
    async def record_status_update(self, incident_id: str, event: Event, *,
                                   require_open: bool = True) -> Incident | None:
        """Put a status update on the timeline and count it; None if this event id was recorded before."""
        res = await self.scripts.status_update(incident_id, event, require_open)
        check(res[0], incident_id)
        return None if res[0] == "dup" else snapshot(res[1], res[2])

    @storage_errors
    async def mark_rca_reviewed(self, incident_id: str, event: Event,
                                redraw: Iterable[Part] = ()) -> tuple[str, Incident | None, str]:
        """("ok", incident, ""), ("already", None, who marked it), or ("not_due", None, "")."""
        res = await self.scripts.rca_reviewed(incident_id, Due.rca(incident_id).member, event,
                                              marks(incident_id, redraw))
        check(res[0], incident_id)
        if res[0] == "ok":
            return "ok", snapshot(res[1], res[2]), ""
        return str(res[0]), None, str(res[1]) if len(res) > 1 and res[1] else ""
