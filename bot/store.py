"""All Redis access. Handlers call these methods; nothing else talks to Redis."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import keys, scripts
from bot.errors import IncidentClosed, IncidentGone, StorageUnavailable
from bot.incident import OPEN, RCA_PENDING, Event, Incident
from bot.schedule import RCA_DUE, rca_member

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

IDEM_TTL_S = 86400
# A render lock outlives any sane chat.update; if its holder dies the next change renders again.
RENDER_LOCK_MS = 15000


def _storage_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            raise StorageUnavailable() from e

    return wrapper


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _snapshot(fields: list[Any], steps: list[Any]) -> Incident:
    return Incident.from_redis(_pairs(fields), _pairs(steps))


def _check(status: str, incident_id: str) -> None:
    if status == "gone":
        raise IncidentGone()
    if status == "closed":
        raise IncidentClosed(f"INC-{incident_id}")


@dataclass(frozen=True)
class StepResult:
    changed: bool
    stale_phase: bool
    render: Incident | None  # set when this caller holds the render lock and must update the message


@dataclass(frozen=True)
class Claim:
    member: str
    owner: str
    attempt: int
    due_ms: int
    now_ms: int  # Redis time at the claim


def _due_target(member: str) -> tuple[str, str, str]:
    """(sorted set, incident field, value) for a scheduled member: it is wanted while field == value."""
    if member.startswith(RCA_DUE + "|"):
        return keys.rca_due(), "rca_status", RCA_PENDING
    return keys.due(), "status", OPEN


# Connections one replica may hold. Past it a command waits briefly for a free one instead of failing
# at once, which under a burst of clicks would read to people as "Redis unreachable".
MAX_CONNECTIONS = 1000


def connect(url: str) -> redis.Redis:
    # Client-side timeouts rather than asyncio.wait_for: cancelling mid-command can corrupt a connection.
    # Retries are short: a declare must still be answered inside Slack's 3 seconds when Redis is down.
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=1.0, decode_responses=True, socket_timeout=1.0,
        socket_connect_timeout=0.5, health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2),
    )
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


class Store:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._create = client.register_script(scripts.CREATE)
        self._step = client.register_script(scripts.STEP)
        self._complete = client.register_script(scripts.COMPLETE)
        self._set_fields = client.register_script(scripts.SET_FIELDS)
        self._lock = client.register_script(scripts.LOCK)
        self._rendered = client.register_script(scripts.RENDERED)
        self._abandon = client.register_script(scripts.ABANDON)
        self._due = client.register_script(scripts.DUE)
        self._claim = client.register_script(scripts.CLAIM)
        self._confirm = client.register_script(scripts.CONFIRM)
        self._finish = client.register_script(scripts.FINISH)
        self._status_update = client.register_script(scripts.STATUS_UPDATE)
        self._rca_schedule = client.register_script(scripts.RCA_SCHEDULE)
        self._rca_reviewed = client.register_script(scripts.RCA_REVIEWED)

    async def close(self) -> None:
        await self.redis.aclose()

    @_storage_errors
    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    @_storage_errors
    async def next_incident_id(self) -> str:
        return str(await self.redis.incr(keys.incident_seq()))

    @_storage_errors
    async def create_incident(self, incident_id: str, request_token: str, fields: dict[str, str],
                              event: Event) -> tuple[bool, str]:
        """Store a new incident unless this request already made one: (created, incident id)."""
        argv: list[str] = [incident_id, str(IDEM_TTL_S), event.id, event.actor, str(event.at),
                           json.dumps(event.data)]
        for k, v in fields.items():
            argv += [k, v]
        res = await self._create(
            keys=[keys.incident(incident_id), keys.idem("declare", request_token), keys.open_incidents(),
                  keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=argv,
        )
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
    async def incident_for_channel(self, channel_id: str) -> str | None:
        value = await self.redis.get(keys.channel(channel_id))
        return str(value) if value else None

    @_storage_errors
    async def link_channel(self, incident_id: str, channel_id: str, channel_name: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.channel(channel_id), incident_id)
            pipe.hset(keys.incident(incident_id), mapping={"channel_id": channel_id, "channel_name": channel_name})
            await pipe.execute()

    @_storage_errors
    async def set_fields(self, incident_id: str, fields: dict[str, str], event: Event | None = None,
                         *, require_open: bool = False) -> tuple[bool, Incident]:
        """Set fields atomically, bump the version if anything changed, log `event` if given."""
        ev = event or Event(type="", actor="", at=0)
        argv = ["1" if require_open else "0", ev.actor, str(ev.at), ev.id, ev.type, json.dumps(ev.data)]
        for k, v in fields.items():
            argv += [k, v]
        res = await self._set_fields(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
                  keys.timeline_seen(incident_id)],
            args=argv,
        )
        _check(res[0], incident_id)
        return bool(res[1]), _snapshot(res[2], res[3])

    async def add_event(self, incident_id: str, event: Event, *, require_open: bool = False) -> Incident:
        return (await self.set_fields(incident_id, {}, event, require_open=require_open))[1]

    @_storage_errors
    async def step(self, incident_id: str, phase: int, index: int, action: str, event: Event,
                   lock_token: str) -> StepResult:
        res = await self._step(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
                  keys.timeline_seen(incident_id), keys.render_lock(incident_id, f"phase:{phase}")],
            args=[str(phase), str(index), action, event.actor, str(event.at), event.id,
                  json.dumps(event.data), lock_token, str(RENDER_LOCK_MS)],
        )
        _check(res[0], incident_id)
        if res[0] == "stale_phase":
            return StepResult(changed=False, stale_phase=True, render=None)
        render = _snapshot(res[2], res[3]) if len(res) > 2 else None
        return StepResult(changed=bool(res[1]), stale_phase=False, render=render)

    @_storage_errors
    async def complete_phase(self, incident_id: str, phase: int, nsteps: int, event: Event, *,
                             last: bool = False, cause: str = "", resolution: str = "",
                             unschedule: list[str] | None = None) -> tuple[list[int], Incident] | None:
        """Close `phase`; None when it was already closed (a second click, another replica)."""
        res = await self._complete(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
                  keys.timeline_seen(incident_id), keys.open_incidents(), keys.due()],
            args=[str(phase), str(nsteps), "1" if last else "0", event.actor, str(event.at), event.id,
                  json.dumps(event.data), cause, resolution, *(unschedule or [])],
        )
        _check(res[0], incident_id)
        if res[0] == "stale_phase":
            return None
        return json.loads(res[1]) or [], _snapshot(res[2], res[3])

    @_storage_errors
    async def lock_render(self, incident_id: str, target: str, token: str) -> Incident | None:
        res = await self._lock(
            keys=[keys.render_lock(incident_id, target), keys.incident(incident_id), keys.steps(incident_id)],
            args=[token, str(RENDER_LOCK_MS)],
        )
        return _snapshot(res[0], res[1]) if res else None

    @_storage_errors
    async def rendered(self, incident_id: str, target: str, token: str, version: int) -> Incident | None:
        """Record that Slack shows `version`; returns newer state to render while the lock is kept."""
        res = await self._rendered(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.rendered(incident_id),
                  keys.render_lock(incident_id, target)],
            args=[target, token, str(version), str(RENDER_LOCK_MS)],
        )
        return _snapshot(res[0], res[1]) if res else None

    @_storage_errors
    async def timeline(self, incident_id: str, *, start: str = "-", count: int = 1000) -> list[Event]:
        rows = await self.redis.xrange(keys.timeline(incident_id), min=start, max="+", count=count)
        return [Event.from_stream(str(sid), {str(k): str(v) for k, v in (raw or {}).items()})
                for sid, raw in rows or []]

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

    @_storage_errors
    async def abandon(self, incident_id: str, event: Event) -> None:
        await self._abandon(
            keys=[keys.incident(incident_id), keys.timeline(incident_id), keys.timeline_seen(incident_id),
                  keys.open_incidents()],
            args=[incident_id, event.actor, str(event.at), event.id, event.type, json.dumps(event.data)],
        )

    # ------------------------------------------------------------ scheduled work

    @_storage_errors
    async def schedule(self, plan: dict[str, int]) -> None:
        by_set: dict[str, dict[str, float]] = {}
        for member, at in plan.items():
            by_set.setdefault(_due_target(member)[0], {})[member] = float(at)
        for key, items in by_set.items():
            # NX: re-planning never pushes back an item that is already due or claimed.
            await self.redis.zadd(key, items, nx=True)

    @_storage_errors
    async def due_members(self, limit: int = 50) -> list[str]:
        return [str(m) for m in await self._due(keys=[keys.due(), keys.rca_due()], args=[limit])]

    @_storage_errors
    async def claim(self, member: str, incident_id: str, owner: str, lease_ms: int,
                    max_attempts: int = 10) -> Claim | None:
        due_set, live_field, live_value = _due_target(member)
        res = await self._claim(keys=[due_set, keys.job(member), keys.incident(incident_id)],
                                args=[member, owner, lease_ms, max_attempts, live_field, live_value])
        if res[0] == "gave_up":
            log.error("giving up on %s after %s attempts", member, int(res[1]) - 1)
        if res[0] != "claimed":
            return None
        return Claim(member=member, owner=owner, attempt=int(res[1]), due_ms=int(float(res[2])),
                     now_ms=int(res[3]))

    @_storage_errors
    async def confirm(self, claim: Claim, incident_id: str, event: Event, *, need_phase: int | None = None,
                      set_severity: str | None = None) -> Incident | None:
        """Record the ping just before posting it; None if it must not be posted any more."""
        due_set, live_field, live_value = _due_target(claim.member)
        res = await self._confirm(
            keys=[due_set, keys.job(claim.member), keys.incident(incident_id), keys.steps(incident_id),
                  keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=[claim.member, claim.owner, event.id, event.type, json.dumps(event.data),
                  "" if need_phase is None else str(need_phase), set_severity or "", live_field, live_value],
        )
        return _snapshot(res[1], res[2]) if res[0] == "ok" else None

    @_storage_errors
    async def finish(self, member: str, incident_id: str) -> None:
        await self._finish(keys=[_due_target(member)[0], keys.job(member), keys.incident(incident_id)],
                           args=[member])

    @_storage_errors
    async def sending(self, incident_id: str) -> str | None:
        value = await self.redis.hget(keys.incident(incident_id), "sending")
        return str(value) if value else None

    @_storage_errors
    async def claim_once(self, scope: str, token: str, ttl_s: int = IDEM_TTL_S) -> bool:
        """True the first time `token` is seen in `scope` (a replayed request gets False)."""
        return bool(await self.redis.set(keys.idem(scope, token), "1", nx=True, ex=ttl_s))

    @_storage_errors
    async def open_incident_ids(self) -> set[str]:
        return {str(x) for x in await self.redis.smembers(keys.open_incidents())}

    # ------------------------------------------------------------ status updates and the RCA

    @_storage_errors
    async def record_status_update(self, incident_id: str, event: Event, *,
                                   require_open: bool = True) -> Incident | None:
        """Put a status update on the timeline and count it; None if this event id was recorded before."""
        res = await self._status_update(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
                  keys.timeline_seen(incident_id)],
            args=["1" if require_open else "0", event.actor, str(event.at), event.id, json.dumps(event.data)],
        )
        _check(res[0], incident_id)
        return None if res[0] == "dup" else _snapshot(res[1], res[2])

    @_storage_errors
    async def schedule_rca(self, incident_id: str, due_ms: int) -> bool:
        """The RCA is due by `due_ms`, with a reminder then; False if that was arranged before."""
        res = await self._rca_schedule(keys=[keys.incident(incident_id), keys.rca_due()],
                                       args=[rca_member(incident_id), str(due_ms)])
        return bool(res)

    @_storage_errors
    async def mark_rca_reviewed(self, incident_id: str, event: Event) -> tuple[str, Incident | None, str]:
        """("ok", incident, ""), ("already", None, who marked it), or ("not_due", None, "")."""
        member = rca_member(incident_id)
        res = await self._rca_reviewed(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
                  keys.timeline_seen(incident_id), keys.rca_due(), keys.job(member)],
            args=[member, event.actor, str(event.at), event.id, json.dumps(event.data)],
        )
        _check(res[0], incident_id)
        if res[0] == "ok":
            return "ok", _snapshot(res[1], res[2]), ""
        return str(res[0]), None, str(res[1]) if len(res) > 1 and res[1] else ""


def new_token() -> str:
    return uuid.uuid4().hex
