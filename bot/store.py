"""All Redis access. Handlers call these methods; nothing else talks to Redis."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.asyncio.sentinel import MasterNotFoundError
from redis.exceptions import AuthenticationError, ClusterError, ReadOnlyError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import keys
from bot.claims import DUE_SETS, Claim, Taken, claim_item, loop_time, outcomes, reserved, wanted
from bot.errors import IncidentClosed, IncidentGone, StorageUnavailable
from bot.incident import Event, Incident, incident_name
from bot.redis_conn import Link, connect, connect_settings
from bot.replication import SentinelWatch
from bot.schedule import Due
from bot.scripts import ClaimItem, Scripts

__all__ = ["Store", "connect", "connect_settings"]  # callers make the connection and the store together
log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

IDEM_TTL_S = 86400
# A render lock outlives any sane chat.update; if its holder dies the sweep draws the part again.
RENDER_LOCK_MS = 10000
# Failed draws in a row before a part is given up (about two minutes of sweeps).
MAX_DRAW_ATTEMPTS = 60


def _storage_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError, ReadOnlyError, ClusterError,
                RedisClusterException) as e:
            raise StorageUnavailable(_why(e)) from e

    return wrapper


def _why(error: Exception) -> str:
    """Why Redis can't be used, in words an operator can act on; redis-py's messages carry no password."""
    if isinstance(error, AuthenticationError):
        return "authentication failed (check the password in REDIS_URL)"
    if isinstance(error, ReadOnlyError):
        return "it is a read-only replica"
    if isinstance(error, MasterNotFoundError):
        # The watch's own message says why; redis-py's lists every sentinel client and is not worth reading.
        said = str(error)
        return said if said.startswith(SentinelWatch.NO_PRIMARY) else (
            f"{SentinelWatch.NO_PRIMARY} (sentinels unreachable, wrong master name or REDIS_SENTINEL_PASSWORD, "
            "or the primary is down)")
    if isinstance(error, (ClusterError, RedisClusterException)):
        return f"the Cluster can't serve the bot's keys ({type(error).__name__}: {error})"
    text = str(error)
    if "SSL" in text or "TLS" in text or "certificate" in text:
        return f"TLS handshake failed ({text})"
    if "refused" in text.lower():
        return f"connection refused ({text})"
    return text or type(error).__name__


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _snapshot(fields: list[Any], steps: list[Any]) -> Incident:
    return Incident.from_redis(_pairs(fields), _pairs(steps))


def _drawing(res: Any) -> Drawing | None:
    return Drawing(_snapshot(res[0], res[1]), str(res[2])) if res else None


def _check(status: str, incident_id: str) -> None:
    if status == "gone":
        raise IncidentGone()
    if status == "closed":
        raise IncidentClosed(incident_name(incident_id))


@dataclass(frozen=True)
class Outcome:
    """What a check-off or an acknowledgement did."""

    # "ok"; or "same", "stale_phase" (a step); or "already", "not_sent", "dup" (an acknowledgement)
    status: str
    by: str = ""  # who had already acknowledged
    acknowledged_after_ms: int | None = None  # set when this was anyone's first response to the incident
    levels: tuple[int, ...] = ()  # escalation levels this acknowledgement marked


def _outcome(res: Any, now_ms: int) -> Outcome:
    if res[0] == "ok":
        first = bool(res[1]) and res[2] is not None
        levels = tuple(int(x) for x in res[3]) if len(res) > 3 else ()
        return Outcome("ok", acknowledged_after_ms=now_ms - int(res[2]) if first else None, levels=levels)
    return Outcome(str(res[0]), by=str(res[1]) if len(res) > 1 and res[1] else "")


def _stepped(res: Any, now_ms: int) -> tuple[Outcome, Drawing | None]:
    """step.lua's answer: what the click did, and the part to draw when its lock was taken."""
    if res[0] not in ("ok", "same"):
        return Outcome(str(res[0])), None
    first = bool(res[1]) and res[2] is not None
    return Outcome(str(res[0]), acknowledged_after_ms=now_ms - int(res[2]) if first else None), _drawing(res[3])


@dataclass(frozen=True)
class Pages:
    """An incident's pages, by role: the dedup key PagerDuty knows each by, and what the latest page says."""

    keys: dict[str, str]
    reasons: dict[str, str]
    ack_sent: frozenset[str]  # roles whose acknowledgement in Slack the bot passed on to PagerDuty

    @classmethod
    def from_redis(cls, fields: dict[str, str]) -> Pages:
        by_kind: dict[str, dict[str, str]] = {}
        for field, value in fields.items():
            kind, _, role = field.partition(":")
            by_kind.setdefault(kind, {})[role] = value
        return cls(keys=by_kind.get("key", {}), reasons=by_kind.get("why", {}),
                   ack_sent=frozenset(by_kind.get("ack_sent", {})))


@dataclass(frozen=True)
class Drawing:
    """The state a part must be drawn from, while this caller holds its lock, and the digest of what
    Slack shows now (empty when unknown)."""

    incident: Incident
    shown_digest: str




@dataclass(frozen=True)
class Recorded:
    """What recording a delivery did: whether the incident took it, changed, and the notes it left to post."""

    linked: bool
    changed: bool
    notes: list[int]


# An alert group's state is forgotten this long after its last delivery.
ALERT_GROUP_TTL_MS = 30 * 86_400_000
# Deliveries kept per group while none is processed (each is the whole group: the newest say it all).
ALERT_INBOX_KEEP = 20


class AlertStore:
    """Alert groups: their inbox of deliveries, the incident they follow, what they recorded. Mixed into Store."""

    redis: redis.Redis
    scripts: Scripts
    link: Link

    @_storage_errors
    async def alert_enqueue(self, group: str, group_key: str, delivery: str) -> int:
        """Store a delivery and queue its group, in one step; its number in the group."""
        return int(await self.scripts.alert_enqueue(group, Due.alert(group).member, group_key, delivery,
                                                    ALERT_INBOX_KEEP, ALERT_GROUP_TTL_MS))

    @_storage_errors
    async def alert_group(self, group: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in (await self.redis.hgetall(keys.alert_group(group))).items()}

    @_storage_errors
    async def alert_inbox(self, group: str) -> list[tuple[int, str]]:
        """Deliveries not yet processed, oldest first: (number, JSON)."""
        rows = await self.redis.zrange(keys.alert_inbox(group), 0, -1)
        return [(int(seq), raw) for seq, _, raw in (str(m).partition("|") for m in rows)]

    @_storage_errors
    async def alert_begin(self, group: str, expected: str, mode: str, firing: list[str]) -> tuple[str, str]:
        """("open", id), ("new", id), ("suggest", ""), ("suggested", ""), ("quiet", "") or ("retry", "")."""
        res = await self.scripts.alert_begin(group, expected, mode, firing)
        return str(res[0]), str(res[1]) if len(res) > 1 else ""

    @_storage_errors
    async def alert_record(self, group: str, incident_id: str, status: str, alerts: list[tuple[str, str]], *,
                           actor: str, at: int, max_rows: int) -> Recorded:
        res = await self.scripts.alert_record(group, incident_id, status, actor, at, max_rows, alerts)
        return Recorded(linked=bool(res[0]), changed=bool(res[1]), notes=[int(n) for n in res[2]])

    @_storage_errors
    async def alert_link(self, group: str, incident_id: str, expected: str, *, actor: str,
                         at: int) -> tuple[str, str]:
        """("ok", id), ("taken", the group's open incident), ("gone", "") or ("retry", "")."""
        res = await self.scripts.alert_link(group, incident_id, expected, actor, at)
        return str(res[0]), str(res[1]) if len(res) > 1 else ""

    @_storage_errors
    async def alert_suggested(self, group: str, fields: dict[str, str]) -> None:
        """What the suggestion for the group says, and where it was posted."""
        mapping: Mapping[Any, Any] = fields
        await self.link.writes.commands(lambda p: p.hset(keys.alert_group(group), mapping=mapping), retry_safe=True)

    @_storage_errors
    async def alert_finish(self, group: str, claim: Claim, last_seq: int, retry_at: int | None = None) -> str:
        return str(await self.scripts.alert_finish(group, claim.member, claim.owner, last_seq, retry_at))


class Store(AlertStore):
    """Takes what `connect` (redis_conn.py) made of REDIS_URL, or a bare client (no write confirmation)."""

    def __init__(self, link: Link | redis.Redis) -> None:
        if isinstance(link, redis.Redis):
            link = Link.bare(link)
        self.link = link
        self.redis = link.client
        self.scripts = Scripts(link.client, link.writes)

    async def close(self) -> None:
        await self.link.aclose()

    @_storage_errors
    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    @_storage_errors
    async def write_probe(self) -> None:
        """A write the current primary must accept (a replica answers READONLY), confirmed like any other."""
        await self.link.writes.commands(lambda p: p.set(keys.ready_probe(), "1", px=10_000), retry_safe=True)

    # ------------------------------------------------------------ the incident

    @_storage_errors
    async def next_incident_id(self) -> str:
        # Confirmed, so that a primary promoted later never hands out the same number again.
        return str((await self.link.writes.commands(lambda p: p.incr(keys.incident_seq()), retry_safe=True))[0])

    @_storage_errors
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

    @_storage_errors
    async def get(self, incident_id: str) -> Incident:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.incident(incident_id))
            pipe.hgetall(keys.steps(incident_id))
            fields, steps = await pipe.execute()
        if not fields:
            raise IncidentGone()
        return Incident.from_redis(fields, steps)

    @_storage_errors
    async def get_many(self, incident_ids: Iterable[str]) -> dict[str, Incident]:
        """Several incidents in one round trip (the scheduler's batch); those that are gone are left out."""
        ids = list(incident_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for incident_id in ids:
                pipe.hgetall(keys.incident(incident_id))
                pipe.hgetall(keys.steps(incident_id))
            res = await pipe.execute()
        return {i: Incident.from_redis(f, st) for i, f, st in zip(ids, res[::2], res[1::2], strict=True) if f}

    @_storage_errors
    async def incident_for_channel(self, channel_id: str) -> str | None:
        value = await self.redis.get(keys.channel(channel_id))
        return str(value) if value else None

    @_storage_errors
    async def bind_view(self, view_id: str, incident_id: str, response_url: str) -> None:
        """Remember what a modal we opened is for, so its submit is checked against this, not its metadata."""
        value = json.dumps({"i": incident_id, "r": response_url})
        await self.link.writes.commands(lambda p: p.set(keys.view(view_id), value, ex=IDEM_TTL_S), retry_safe=True)

    @_storage_errors
    async def left_without_channel(self, older_than_ms: int, limit: int = 10) -> list[str]:
        """Incidents stored more than `older_than_ms` ago whose channel is still not linked."""
        before = await self._now_ms() - older_than_ms
        return [str(x) for x in await self.redis.zrangebyscore(keys.without_channel(), "-inf", before, 0, limit)]

    @_storage_errors
    async def forget_without_channel(self, incident_id: str) -> None:
        await self.link.writes.commands(lambda p: p.zrem(keys.without_channel(), incident_id), retry_safe=True)

    @_storage_errors
    async def take_set_up(self, incident_id: str, ttl_s: int) -> bool:
        """True for the one request that is to set the incident's channel up (for `ttl_s`)."""
        answers = await self.link.writes.commands(
            lambda p: p.set(keys.setting_up(incident_id), "1", nx=True, ex=ttl_s), retry_safe=False)
        return bool(answers[0])

    @_storage_errors
    async def view_binding(self, view_id: str) -> tuple[str, str] | None:
        """(incident id, response_url) of a modal we opened, or None."""
        value = await self.redis.get(keys.view(view_id))
        if not value:
            return None
        data = json.loads(value)
        return str(data.get("i", "")), str(data.get("r", ""))

    @_storage_errors
    async def link_channel(self, incident_id: str, channel_id: str, channel_name: str,
                           event: Event | None = None) -> Incident:
        """The incident's channel, both ways; safe to repeat (the channel's key first: alone it changes nothing)."""
        def fill(pipe: Pipeline) -> None:
            pipe.set(keys.channel(channel_id), incident_id)
            pipe.zrem(keys.without_channel(), incident_id)

        await self.link.writes.commands(fill, retry_safe=True)
        return (await self.set_fields(incident_id, {"channel_id": channel_id, "channel_name": channel_name},
                                      event))[1]

    @_storage_errors
    async def set_fields(self, incident_id: str, fields: dict[str, str], event: Event | None = None,
                         *, require_open: bool = False) -> tuple[bool, Incident]:
        """Set fields atomically, bump the version if anything changed, log `event` if given."""
        res = await self.scripts.set_fields(incident_id, fields, event, require_open)
        _check(res[0], incident_id)
        return bool(res[1]), _snapshot(res[2], res[3])

    async def add_event(self, incident_id: str, event: Event, *, require_open: bool = False) -> Incident:
        return (await self.set_fields(incident_id, {}, event, require_open=require_open))[1]

    @_storage_errors
    async def step(self, incident_id: str, phase: int, index: int, done: bool, event: Event) -> Outcome:
        """"ok" (changed), "same" (already so) or "stale_phase" (that phase is closed)."""
        res = await self.scripts.step(incident_id, phase, index, "done" if done else "undo", event)
        _check(res[0], incident_id)
        return _stepped(res, event.at)[0]

    @_storage_errors
    async def click_step(self, incident_id: str, channel: str, playbook: str, phase: int, index: int, done: bool,
                         event: Event, part: str, member: str, token: str) -> tuple[Outcome, Drawing | None]:
        """A Done/Undo click in `channel`, and `part` locked with `token` to draw it, in one round trip. Beside
        step's: "not_incident" (the channel is no incident's) and "other" (another incident's, or playbook's)."""
        res = await self.scripts.step(incident_id, phase, index, "done" if done else "undo", event, channel=channel,
                                      playbook=playbook, part=part, member=member, token=token,
                                      lock_ms=RENDER_LOCK_MS)
        _check(res[0], incident_id)
        return _stepped(res, event.at)

    @_storage_errors
    async def complete_phase(self, incident_id: str, phase: int, nsteps: int, event: Event, *,
                             last: bool = False, cause: str = "", resolution: str = "",
                             unschedule: list[str] | None = None, rca_due_ms: int = 0) -> Incident | None:
        """Close `phase`; None when it was already closed (a second click, another replica). Closing the
        `last` phase resolves the incident and makes its RCA due at `rca_due_ms`."""
        res = await self.scripts.complete(incident_id, phase, nsteps, last, event, cause, resolution,
                                          Due.rca(incident_id).member, rca_due_ms, unschedule or [])
        _check(res[0], incident_id)
        return None if res[0] == "stale_phase" else _snapshot(res[1], res[2])

    @_storage_errors
    async def acknowledge(self, incident_id: str, levels: list[int], event: Event, *,
                          page_roles: list[str] | None = None, note: bool = False) -> Outcome:
        """Mark the sent, unacknowledged `levels` acknowledged by `event.actor`: "ok" (with the levels marked),
        "already" (with who), "not_sent" (none was posted) or "dup" (this event id was recorded before).
        `page_roles`: tell PagerDuty too, for those that were paged. `note`: record the event even when no
        level changed (an acknowledgement in PagerDuty of a page no level sent)."""
        res = await self.scripts.acknowledge(incident_id, levels, event, page_roles or [], note)
        _check(res[0], incident_id)
        return _outcome(res, event.at)

    @_storage_errors
    async def note_once(self, incident_id: str, event: Event) -> bool:
        """Put an outside event on the timeline unless its id is there already; True when it was new."""
        return bool(await self.scripts.note(incident_id, event))

    @_storage_errors
    async def abandon(self, incident_id: str, event: Event) -> None:
        await self.scripts.abandon(incident_id, event)

    @_storage_errors
    async def open_counts(self) -> dict[str, int]:
        """Open incidents per playbook."""
        return {str(k): int(v) for k, v in (await self.redis.hgetall(keys.open_by_playbook())).items()}

    @_storage_errors
    async def open_incident_ids(self) -> set[str]:
        return {str(x) for x in await self.redis.smembers(keys.open_incidents())}

    # ------------------------------------------------------------ the timeline

    @_storage_errors
    async def timeline(self, incident_id: str, *, start: str = "-", count: int = 1000) -> list[Event]:
        # redis-py has decoded every field already (decode_responses): no second pass over them.
        rows = cast(list[tuple[str, dict[str, str]]],
                    await self.redis.xrange(keys.timeline(incident_id), min=start, max="+", count=count))
        return [Event.from_stream(sid, raw or {}) for sid, raw in rows or []]

    async def iter_timeline(self, incident_id: str, page: int = 1000) -> AsyncIterator[Event]:
        """The whole timeline, paged with exclusive start ids so huge incidents stay cheap."""
        start = "-"
        while True:
            batch = await self.timeline(incident_id, start=start, count=page)
            for ev in batch:
                yield ev
            if len(batch) < page:
                return
            start = "(" + batch[-1].stream_id

    # ------------------------------------------------------------ drawing parts in Slack (see sync.py)

    @_storage_errors
    async def lock_part(self, incident_id: str, part: str, member: str, token: str) -> Drawing | None:
        """Mark the part dirty and take its lock; None when another caller holds it (or no incident)."""
        return _drawing(await self.scripts.lock_part(incident_id, part, member, token, RENDER_LOCK_MS))

    @_storage_errors
    async def part_drawn(self, incident_id: str, part: str, member: str, token: str, version: int,
                         digest: str) -> Drawing | None:
        """Slack shows `version`; newer state to draw while the lock is kept, or None (lock released)."""
        return _drawing(await self.scripts.part_drawn(incident_id, part, member, token, version, digest,
                                                      RENDER_LOCK_MS))

    @_storage_errors
    async def mark_posting(self, incident_id: str, part: str, member: str, ttl_ms: int) -> None:
        now = float(await self._now_ms())

        def fill(pipe: Pipeline) -> None:
            pipe.set(keys.posting(incident_id, part), "1", px=ttl_ms)
            pipe.zadd(keys.dirty(), {member: now}, nx=True)

        await self.link.writes.commands(fill, retry_safe=True, transaction=True)

    async def _now_ms(self) -> int:
        """Redis's clock as the scripts read it (now_ms in lua/_common.lua): TIME plus the sandbox's offset."""
        return int(await self.scripts.now())

    @_storage_errors
    async def clock_offset(self) -> int:
        """How far the sandbox has moved the clock ahead, ms (0 in a deployment)."""
        return int(await self.redis.get(keys.clock_offset()) or 0)

    @_storage_errors
    async def advance_clock(self, ms: int) -> int:
        """The sandbox's "skip ahead": every script's now_ms moves by `ms`; the new offset."""
        return int(await self.redis.incrby(keys.clock_offset(), ms))

    @_storage_errors
    async def posting_failed(self, incident_id: str, part: str, member: str) -> None:
        """A first post failed: no longer under way, and dirty (dated now) so the sweep posts it."""
        now = await self._now_ms()

        def fill(pipe: Pipeline) -> None:
            pipe.delete(keys.posting(incident_id, part))
            pipe.zadd(keys.dirty(), {member: float(now)})

        await self.link.writes.commands(fill, retry_safe=True, transaction=True)

    @_storage_errors
    async def posting(self, incident_id: str, part: str) -> bool:
        return bool(await self.redis.exists(keys.posting(incident_id, part)))

    @_storage_errors
    async def part_posted(self, incident_id: str, part: str, member: str, version: int, digest: str, token: str,
                          fields: dict[str, str], done: Due | None = None) -> Drawing | None:
        """Keep a posted part's ts (`fields`); Slack shows `version` with `digest`. The newer state to draw,
        its lock taken with `token`, when the incident moved since; else None (nothing to draw). `done`: the
        scheduled item the post finishes (as `finish`)."""
        item = (wanted(done).due_set, done.member) if done else None
        return _drawing(await self.scripts.part_posted(incident_id, part, member, version, digest, token,
                                                       RENDER_LOCK_MS, fields, item))

    @_storage_errors
    async def part_failed(self, incident_id: str, part: str, member: str, token: str) -> bool:
        """Let go and leave the part dirty; False when it failed too often and was given up."""
        return bool(await self.scripts.part_failed(incident_id, part, member, token, MAX_DRAW_ATTEMPTS))

    @_storage_errors
    async def dirty_members(self, older_than_ms: int, limit: int = 50) -> list[str]:
        return [str(m) for m in await self.scripts.due([keys.dirty()], limit, older_than_ms)]

    @_storage_errors
    async def forget_dirty(self, member: str) -> None:
        """A part Slack will never take again (message deleted, channel archived)."""
        await self.redis.zrem(keys.dirty(), member)

    # ------------------------------------------------------------ scheduled work

    @_storage_errors
    async def schedule(self, plan: dict[Due, int]) -> None:
        by_set: dict[str, dict[str, float]] = {}
        for due, at in plan.items():
            by_set.setdefault(wanted(due).due_set, {})[due.member] = float(at)

        def fill(pipe: Pipeline) -> None:
            for key, items in by_set.items():
                # NX: re-planning never pushes back an item that is already due or claimed.
                pipe.zadd(key, items, nx=True)

        if by_set:
            await self.link.writes.commands(fill, retry_safe=True)

    @_storage_errors
    async def due_members(self, limit: int = 50) -> list[str]:
        return [str(m) for m in await self.scripts.due(list(DUE_SETS), limit)]

    @_storage_errors
    async def take_due(self, owner: str, lease_ms: int, limit: int, max_attempts: int = 10) -> Taken:
        """Claim what is due, up to `limit` items from each due set, in two script calls (reserve, claim);
        `full` when a set gave a whole page, so more may be due already."""
        sent_at = loop_time()
        now, found = reserved(await self.scripts.reserve(list(DUE_SETS), limit, lease_ms))
        per_set = [0] * len(DUE_SETS)
        dues: list[Due] = []
        items: list[ClaimItem] = []
        for index, member, score in found:
            per_set[index - 1] += 1
            try:
                due = Due.parse(member)
            except ValueError:
                log.error("cannot read scheduled item %r; leaving it", member)
                continue
            dues.append(due)
            items.append(claim_item(due, str(now + lease_ms), score))
        full = max(per_set) >= limit
        if not items:
            return Taken([], full)
        res, acked = await self.scripts.claim(owner, lease_ms, max_attempts, items)
        claims = outcomes(res, dues, owner, lease_ms, sent_at, replicated=acked >= 1)
        return Taken([(due, claim) for due, claim in zip(dues, claims, strict=True) if claim is not None], full)

    @_storage_errors
    async def claim(self, due: Due, owner: str, lease_ms: int, max_attempts: int = 10) -> Claim | None:
        """Claim one item if it is due now (take_due claims in batches)."""
        sent_at = loop_time()
        res, acked = await self.scripts.claim(owner, lease_ms, max_attempts, [claim_item(due)])
        return outcomes(res, [due], owner, lease_ms, sent_at, replicated=acked >= 1)[0]

    @_storage_errors
    async def renew(self, owner: str, claims: list[tuple[Due, Claim]]) -> list[tuple[Due, Claim]]:
        """The heartbeat: renew every lease in `claims` (all `owner`'s) in one call. The leases not renewed
        are marked lost; returns the claims another replica owns now (the others were finished or dropped)."""
        if not claims:
            return []
        sent_at = loop_time()
        lease_ms = max(claim.lease.ms for _, claim in claims)
        res = await self.scripts.renew(owner, lease_ms, [(wanted(due).due_set, due.member) for due, _ in claims])
        taken = []
        for (due, claim), held in zip(claims, res, strict=True):
            if int(held) == 1:
                claim.lease.renewed(sent_at)
                continue
            claim.lease.lost = True
            if int(held) == 2:
                taken.append((due, claim))
        return taken

    @_storage_errors
    async def confirm(self, due: Due, claim: Claim, event: Event, *, need_phase: int | None = None,
                      set_severity: str | None = None, fields: dict[str, str] | None = None,
                      pages: list[PageRequest] | None = None, part: str = "", posting_ms: int = 0) -> Incident | None:
        """Record the item just before posting it, renewing its lease; None if it must not be posted any more.
        The first confirm also queues `pages`. With `part`, that part is marked as mark_posting does."""
        w = wanted(due)
        sent_at = loop_time()
        res = await self.scripts.confirm(w.due_set, due.member, due.incident_id, claim.owner, claim.lease.ms, event,
                                         need_phase, set_severity or "", w.live_field, w.live_value, w.met_field,
                                         fields or {}, [p.as_json() for p in pages or []], part,
                                         f"{due.incident_id}|{part}" if part else "", posting_ms)
        if res[0] == "lost":
            claim.lease.lost = True
        if res[0] != "ok":
            return None
        claim.lease.renewed(sent_at)
        return _snapshot(res[1], res[2])

    @_storage_errors
    async def release(self, due: Due, claim: Claim) -> bool:
        """Hand a claim back (shutting down); False if it was no longer ours."""
        return bool(await self.scripts.release(wanted(due).due_set, due.member, claim.owner))

    @_storage_errors
    async def finish(self, due: Due) -> None:
        await self.scripts.finish(wanted(due).due_set, due.member, due.incident_id)

    @_storage_errors
    async def retry_later(self, due: Due, claim: Claim, delay_ms: int, *, counted: bool = True) -> bool:
        """Send a claimed item again in `delay_ms`; False if the claim was no longer ours."""
        return bool(await self.scripts.retry(wanted(due).due_set, due.member, claim.owner, delay_ms, counted))

    @_storage_errors
    async def sending(self, incident_id: str) -> str | None:
        value = await self.redis.hget(keys.incident(incident_id), "sending")
        return str(value) if value else None

    # ------------------------------------------------------------ status updates and the RCA

    @_storage_errors
    async def record_status_update(self, incident_id: str, event: Event, *,
                                   require_open: bool = True) -> Incident | None:
        """Put a status update on the timeline and count it; None if this event id was recorded before."""
        res = await self.scripts.status_update(incident_id, event, require_open)
        _check(res[0], incident_id)
        return None if res[0] == "dup" else _snapshot(res[1], res[2])

    @_storage_errors
    async def mark_rca_reviewed(self, incident_id: str, event: Event) -> tuple[str, Incident | None, str]:
        """("ok", incident, ""), ("already", None, who marked it), or ("not_due", None, "")."""
        res = await self.scripts.rca_reviewed(incident_id, Due.rca(incident_id).member, event)
        _check(res[0], incident_id)
        if res[0] == "ok":
            return "ok", _snapshot(res[1], res[2]), ""
        return str(res[0]), None, str(res[1]) if len(res) > 1 and res[1] else ""

    # ------------------------------------------------------------ pages through PagerDuty

    @_storage_errors
    async def request_page(self, incident_id: str, page: PageRequest, event: Event) -> None:
        """Page a role of an open incident now (IncidentClosed when it is not)."""
        res = await self.scripts.page_request(incident_id, page.role, page.key, page.why, event)
        _check(res[0], incident_id)

    @_storage_errors
    async def page_done(self, due: Due, claim: Claim, event: Event) -> bool:
        """Drop a sent (or failed) PagerDuty event from the queue, recording `event` once; True if this call
        recorded it."""
        return bool(await self.scripts.page_done(due.incident_id, due.member, claim.owner, event))

    @_storage_errors
    async def pages(self, incident_id: str) -> Pages:
        fields = await self.redis.hgetall(keys.pager(incident_id))
        return Pages.from_redis({str(k): str(v) for k, v in fields.items()})

    @_storage_errors
    async def page_target(self, dedup_key: str) -> tuple[str, str] | None:
        """(incident id, role) of a dedup key the bot sent to PagerDuty; None for any other key."""
        value = await self.redis.hget(keys.pager_index(), dedup_key)
        if not value:
            return None
        incident_id, _, role = str(value).partition("|")
        return incident_id, role

    @_storage_errors
    async def any_queued(self, dues: list[Due]) -> bool:
        """Whether any of these items is still waiting (or being sent)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for due in dues:
                pipe.zscore(wanted(due).due_set, due.member)
            return any(score is not None for score in await pipe.execute())


@dataclass(frozen=True)
class PageRequest:
    """Page `role` through PagerDuty under the dedup key `key`, saying `why`."""

    role: str
    key: str
    why: str

    def as_json(self) -> dict[str, str]:
        return {"role": self.role, "key": self.key, "why": self.why}


def new_token() -> str:
    return uuid.uuid4().hex
