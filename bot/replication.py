"""When a state change counts: it is on the primary Sentinel names and, when asked for, on a replica too.

Replication is asynchronous, and during `SENTINEL FAILOVER` the old primary keeps taking writes for about
eleven seconds after its replica was promoted: whatever lands there is gone once it is turned into a replica.
So each write is sent with `WAIT <n> <ms>` on the same connection (one pipeline), and counts only when
  - n replicas (REDIS_WAIT_REPLICAS) have it, or
  - fewer replicas are up than that, all sentinels agree that the server it went to is the primary, and as
    many as are up have it (a primary whose replica died keeps working).
Otherwise the sentinels are asked again, waiting out a failover under way, and the pool follows the new
primary; a write that is safe to repeat is written again there, any other raises NotSaved, which the person
reads as "may not have been saved, please try again". This module repeats a write only when a second run
is harmless (redis-py itself still resends a command whose connection dropped mid-way: scripts.py says which
scripts take that well).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import AuthenticationError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import NotSaved

log = logging.getLogger(__name__)

Address = tuple[str, int]
Fill = Callable[[Pipeline], object]
# A view of the sentinels younger than this is used as is.
VIEW_MAX_AGE_S = 1.0
# How long a write waits for the sentinels to agree on a primary once it found it went to the wrong one.
SETTLE_S = 5.0
SETTLE_POLL_S = 0.1
# Attempts at a write that is safe to repeat, each after following a new primary.
ATTEMPTS = 3


@dataclass(frozen=True)
class Also:
    """Commands queued after a script, on its connection: `answers` of them, none of which can fail the call."""

    fill: Fill
    answers: int


@dataclass(frozen=True)
class View:
    """What the sentinels say: the primary, how many of its replicas are up and in sync, whether a failover is
    visibly under way (they disagree, or one is running it), and whether every one of them answered, agreeing,
    with none under way (`settled`). Only a settled view may vouch for a write no replica confirmed: the
    sentinel running a failover is the only one that knows of it until it ends, so its silence counts."""

    primary: Address
    replicas_up: int
    moving: bool
    settled: bool
    at: float


class SentinelWatch:
    """The sentinels' view of one primary, asked at most once a second (more often only after a write went
    wrong), and the pool kept pointing at the primary they name."""

    NO_PRIMARY = "no sentinel names a primary"

    def __init__(self, sentinel: Sentinel, name: str, pool: SentinelConnectionPool) -> None:
        self.sentinel, self.name, self.pool = sentinel, name, pool
        self._view: View | None = None
        self._lock = asyncio.Lock()

    async def view(self, *, newer_than: float | None = None) -> View:
        """The current view; with `newer_than`, one taken after that moment, once no failover is under way (or
        SETTLE_S passed). The pool follows the primary the sentinels that answer agree on."""
        wanted_after = time.monotonic() - VIEW_MAX_AGE_S if newer_than is None else newer_than
        if self._view is not None and (self._view.at > wanted_after or (newer_than is None and self._lock.locked())):
            return self._view  # recent enough, or being refreshed: a slow sentinel must not hold up every write
        async with self._lock:  # one look at a time; those waiting take its answer
            if self._view is not None and self._view.at > wanted_after:
                return self._view
            view = await self._look()
            deadline = time.monotonic() + SETTLE_S
            while newer_than is not None and view.moving and time.monotonic() < deadline:
                await asyncio.sleep(SETTLE_POLL_S)
                view = await self._look()
            if not view.moving:
                await self._follow(view.primary)
            self._view = view
            return view

    async def _look(self) -> View:
        at = time.monotonic()
        answers = await asyncio.gather(*(self._ask(s) for s in self.sentinel.sentinels))
        states = [a for a in answers if not isinstance(a, str)]
        if not states:
            why = "; ".join(sorted({a for a in answers if isinstance(a, str)}))
            raise MasterNotFoundError(f"{self.NO_PRIMARY} for {self.name!r} ({why})")
        primaries = {primary for primary, _, _ in states}
        primary, replicas_up, _ = max(states, key=lambda s: s[1])
        moving = len(primaries) > 1 or any(f for _, _, f in states)
        settled = not moving and len(states) == len(answers)
        return View(primary, replicas_up, moving, settled, at)

    async def _ask(self, sentinel: redis.Redis) -> tuple[Address, int, bool] | str:
        """(primary, replicas up and in sync, failover under way) from one sentinel, or why it can't say."""
        try:
            masters: dict[str, dict[str, Any]] = await sentinel.sentinel_masters()  # type: ignore[assignment]
            state = masters.get(self.name)
            if not state:
                return "unknown master name"
            if state["is_sdown"] or state["is_odown"]:
                return "primary down"
            replicas = await sentinel.sentinel_slaves(self.name)
        except AuthenticationError:
            return "sentinel refused the password (REDIS_SENTINEL_PASSWORD)"
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            return f"sentinel unreachable ({type(e).__name__})"
        up = sum(1 for r in replicas if not (r["is_sdown"] or r["is_odown"] or r["is_disconnected"])
                 and r.get("role-reported") == "slave" and r.get("master-link-status") == "ok")
        flags = str(state.get("flags", ""))
        return (str(state["ip"]), int(state["port"])), up, "failover_in_progress" in flags

    async def _follow(self, primary: Address) -> None:
        """Point the pool at `primary`: idle connections to another server close now, busy ones when they are
        handed back; new ones ask the sentinels."""
        known = self.pool.master_address
        if known is None or (str(known[0]), int(known[1])) == primary:
            return
        log.warning("Redis: Sentinel names a new primary for %r, %s:%s (was %s:%s); following it",
                    self.name, primary[0], primary[1], known[0], known[1])
        self.pool.master_address = primary
        await self.pool.disconnect(inuse_connections=False)
        await self.pool.update_active_connections_for_reconnect()  # type: ignore[no-untyped-call]


class _Tracked(Pipeline):
    """A pipeline that remembers which server ran it: a WAIT's answer means something only next to that."""

    served: Address | None = None

    # The pipeline's own reset (it hands the connection back), not the RESET command its stubs mix it up with.
    async def reset(self) -> None:  # type: ignore[override]
        conn = self.connection
        if conn is not None and getattr(conn, "host", None):
            self.served = (str(conn.host), int(conn.port))
        await super().reset()  # type: ignore[no-untyped-call]


class Writes:
    """Runs every write that changes state (the scripts, and the few plain commands), confirmed as above.
    With `wanted` 0 they run as they are."""

    def __init__(self, client: redis.Redis, *, wanted: int, timeout_s: float, watch: SentinelWatch | None = None):
        self.client, self.wanted, self.watch = client, wanted, watch
        self.timeout_ms = max(1, int(timeout_s * 1000))

    async def script(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any], *,
                     retry_safe: bool, first: Sequence[Any] = ()) -> Any:
        return (await self.script_acked(script, keys, args, retry_safe=retry_safe, first=first))[0]

    async def script_acked(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any], *,
                           retry_safe: bool, also: Also | None = None,
                           first: Sequence[Any] = ()) -> tuple[Any, int, list[Any]]:
        """The script's answer, how many replicas confirmed the write (0 when none was asked to), and the raw
        answers of the commands `also` queues after it on the same connection (so from the same server); an
        error among those is an answer, never raised. `first`: one command sent just ahead of the script, in
        the same write (Redis runs it even if this process dies before reading the answers); on Cluster, whose
        client has no single connection pool to pipeline on, just before it."""
        if first and not hasattr(self.client, "connection_pool"):
            await self.client.execute_command(*first)  # type: ignore[no-untyped-call]
            first = ()
        if not self.wanted and self.watch is None and also is None and not first:
            return await script(keys=list(keys), args=list(args)), 0, []

        optional = also.answers if also is not None else 0
        ahead = 1 if first else 0

        def run(pipe: Pipeline) -> None:
            if first:
                pipe.execute_command(*first)
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            if also is not None:
                also.fill(pipe)

        def load_and_run(pipe: Pipeline) -> None:
            pipe.script_load(script.script)  # on the same connection, so on the server that runs it
            run(pipe)

        try:
            answers, acked = await self._confirmed(run, retry_safe=retry_safe, optional=optional)
            return answers[ahead], acked, answers[ahead + 1:]
        except NoScriptError:  # this server lacks it (restarted, or newly primary): refused, so nothing ran
            answers, acked = await self._confirmed(load_and_run, retry_safe=retry_safe, optional=optional)
            return answers[ahead + 1], acked, answers[ahead + 2:]

    async def read(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """A script that only reads. The scheduler runs one every tick, so this is also where an idle replica
        learns of a new primary (the sentinels are asked at most once a second)."""
        await self._view()
        return await script(keys=list(keys), args=list(args))

    async def commands(self, fill: Fill, *, retry_safe: bool, transaction: bool = False) -> list[Any]:
        """The answers of the commands `fill` queues; with `transaction`, run atomically (MULTI/EXEC)."""
        if not self.wanted and self.watch is None:
            async with self.client.pipeline(transaction=transaction) as pipe:
                fill(pipe)
                return list(await pipe.execute())
        if not transaction:
            return (await self._confirmed(fill, retry_safe=retry_safe))[0]

        def atomically(pipe: Pipeline) -> None:
            # WAIT inside MULTI would not wait: the transaction is spelled out so WAIT can follow its EXEC.
            pipe.execute_command("MULTI")
            fill(pipe)
            pipe.execute_command("EXEC")

        return list((await self._confirmed(atomically, retry_safe=retry_safe))[0][-1])

    async def _confirmed(self, fill: Fill, *, retry_safe: bool, optional: int = 0) -> tuple[list[Any], int]:
        """Redis's raw answers to the commands `fill` queues, once they count, and how many replicas have them.
        The last `optional` of them may fail: their errors are answers, not raised."""
        for attempt in range(1, ATTEMPTS + 1):
            view = await self._view()
            need = self.wanted if view is None else min(self.wanted, view.replicas_up)
            # Raw replies, no response callbacks: one could choke on the QUEUED a spelled-out transaction answers.
            pipe = _Tracked(self.client.connection_pool, {}, False, None)
            async with pipe:
                fill(pipe)
                if need:
                    pipe.execute_command("WAIT", need, self.timeout_ms)
                answers = await pipe.execute(raise_on_error=False)
            finished = time.monotonic()
            end = len(answers) - (1 if need else 0)  # WAIT answers last; the optional ones just before it
            for answer in answers[:end - optional] + answers[end:]:
                if isinstance(answer, Exception):
                    raise answer
            acked, value = (int(answers[-1]), answers[:-1]) if need else (0, answers)
            if (self.wanted and acked >= self.wanted) or (view is None and not self.wanted):
                # On as many replicas as asked: safe whoever is primary. (Or nothing was asked, and no
                # sentinel answers to say whether the server is still the primary: as without Sentinel.)
                return value, acked
            if self.watch is None:
                raise NotSaved(f"{acked} of {self.wanted} replica(s) confirmed the write within {self.timeout_ms} ms")
            if view is not None and view.settled and pipe.served == view.primary and acked >= need:
                return value, acked  # on the primary, and on as many replicas as are up
            try:
                view = await self.watch.view(newer_than=finished)
            except (RedisConnectionError, RedisTimeoutError) as e:
                raise NotSaved(f"no sentinel could say whether the write went to the primary ({e})") from e
            if view.moving:
                raise NotSaved("the sentinels do not agree on a primary yet (a failover is under way)")
            if pipe.served == view.primary:
                if view.settled and acked >= min(self.wanted, view.replicas_up):
                    return value, acked
                if view.settled:
                    raise NotSaved(f"{acked} of the {view.replicas_up} replica(s) up confirmed the write within "
                                   f"{self.timeout_ms} ms")
                raise NotSaved(f"{acked} replica(s) confirmed the write, and not every sentinel answered to vouch "
                               "for the primary")
            where = f"{pipe.served[0]}:{pipe.served[1]}" if pipe.served else "an unknown server"
            if not retry_safe:
                raise NotSaved(f"it went to {where}, no longer the primary")
            log.warning("Redis: a write went to %s, no longer the primary; writing it again to %s:%s (attempt %d)",
                        where, view.primary[0], view.primary[1], attempt + 1)
        raise NotSaved("the primary kept changing")

    async def _view(self) -> View | None:
        """The sentinels' recent view, or None without Sentinel or when none answers (then every write waits for
        all REDIS_WAIT_REPLICAS replicas: the primary may still be fine)."""
        if self.watch is None:
            return None
        try:
            return await self.watch.view()
        except (RedisConnectionError, RedisTimeoutError):
            return None
