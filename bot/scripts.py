"""Every atomic state change: the Lua scripts in `bot/lua/`, each with the one typed wrapper that calls it.

The KEYS/ARGV order of a script is written here and in its file's first lines, nowhere else. Wrappers
return Redis's raw answer; `store/` turns it into domain values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as redis

from bot import keys
from bot.incident import Event
from bot.replication import Also, Writes

_COMMON = "_common"
# Written again after a failover (see above); `due` and `now` only read.
RETRY_SAFE = frozenset({"step", "set_fields", "abandon", "page_request", "confirm", "finish",
                        "part_posted", "posting", "server_since"})
READ_ONLY = frozenset({"due", "now"})
# Housekeeping whose loss costs nothing: not held up waiting for replicas (REDIS_WAIT_REPLICAS).
UNCONFIRMED = frozenset({"trim_reserved"})


def _source(name: str) -> str:
    lua = resources.files("bot") / "lua"
    # The one key _common.lua reads without KEYS (now_ms's clock offset), named here as keys.py builds it.
    clock = f"local CLOCK_OFFSET = {json.dumps(keys.clock_offset())}\n"
    return clock + (lua / f"{_COMMON}.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


_MARK = _source("mark")


def _event_args(event: Event) -> list[str]:
    return [event.actor, str(event.at), event.id]


def _pairs(fields: dict[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


@dataclass(frozen=True)
class Marks:
    """What a change's caller does next, marked ahead of the change (lua/mark.lua): the parts it draws (dirty-set
    members), and those it posts ((incident id, part key, member)) with how long a post may take. A mark the
    change did not need costs the sweep one redraw with no Slack call (the digest is unchanged)."""

    drawn: Sequence[str] = ()
    posted: Sequence[tuple[str, str, str]] = ()
    posting_ms: int = 0


def _marking(marks: Marks | None) -> list[Any]:
    """`mark.lua` as a command to send first. EVAL with its text, not EVALSHA: a server without the script
    cached must not refuse it, as the change after it would then run twice."""
    if marks is None or not (marks.drawn or marks.posted):
        return []
    return ["EVAL", _MARK, 1 + len(marks.posted), keys.dirty(), *(keys.posting(i, p) for i, p, _ in marks.posted),
            str(marks.posting_ms), *(m for _, _, m in marks.posted), *marks.drawn]


def _timeline(incident_id: str) -> list[str]:
    """The keys a script needs to change an incident and write its timeline."""
    return [keys.incident(incident_id), keys.steps(incident_id), keys.timeline(incident_id),
            keys.timeline_seen(incident_id)]


@dataclass(frozen=True)
class ClaimItem:
    """One due item to claim: where it waits, the hash and field saying whether it is still wanted, and
    the score reserve.lua moved it to ('' when not reserved: it must be due now)."""

    due_set: str
    member: str
    live_key: str
    live_field: str
    live_value: str
    met_field: str = ""
    reserved: str = ""
    due_score: str = ""


class _Script:
    """One registered script, called as `await script(keys=…, args=…)`; writes are confirmed by `Writes`."""

    def __init__(self, client: redis.Redis, writes: Writes, name: str) -> None:
        self._script, self._writes, self._name = client.register_script(_source(name)), writes, name

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Any], first: Sequence[Any] = ()) -> Any:
        if self._name in READ_ONLY or self._name in UNCONFIRMED:
            return await self._writes.read(self._script, keys, args)
        return await self._writes.script(self._script, keys, args, retry_safe=self._name in RETRY_SAFE,
                                         first=first)

    async def acked(self, *, keys: Sequence[str], args: Sequence[Any],
                    also: Also | None = None) -> tuple[Any, int, list[Any]]:
        """The answer, how many replicas confirmed the write, and what `also` queued answered
        (replication.Writes.script_acked)."""
        return await self._writes.script_acked(self._script, keys, args, retry_safe=self._name in RETRY_SAFE,
                                               also=also)


class Scripts:
    """Registered once per Redis client; EVALSHA, and the script sent again when Redis forgot it."""

    def __init__(self, client: redis.Redis, writes: Writes) -> None:
        def load(name: str) -> _Script:
            return _Script(client, writes, name)

        self._create, self._step, self._complete = load("create"), load("step"), load("complete")
        self._set_fields, self._acknowledge, self._abandon = load("set_fields"), load("acknowledge"), load("abandon")
        self._status_update = load("status_update")
        self._rca_reviewed, self._due, self._claim = load("rca_reviewed"), load("due"), load("claim")
        self._confirm, self._finish = load("confirm"), load("finish")
        self._lock_part, self._part_drawn = load("lock_part"), load("part_drawn")
        self._part_failed, self._part_posted = load("part_failed"), load("part_posted")
        self._release, self._retry = load("release"), load("retry")
        self._reserve, self._renew, self._now = load("reserve"), load("renew"), load("now")
        self._trim_reserved = load("trim_reserved")
        self._page_request, self._page_done, self._note = load("page_request"), load("page_done"), load("note")
        self._alert_enqueue, self._alert_begin = load("alert_enqueue"), load("alert_begin")
        self._alert_record, self._alert_link = load("alert_record"), load("alert_link")
        self._alert_finish = load("alert_finish")
        self._posting, self._server_since = load("posting"), load("server_since")

    async def create(self, incident_id: str, request_token: str, ttl_s: int, fields: dict[str, str],
                     event: Event, plan: dict[str, int]) -> Any:
        return await self._create(
            keys=[keys.incident(incident_id), keys.idem("declare", request_token), keys.open_incidents(),
                  keys.timeline(incident_id), keys.timeline_seen(incident_id), keys.open_by_playbook(), keys.due(),
                  keys.without_channel()],
            args=[incident_id, str(ttl_s), event.id, event.actor, str(event.at), event.data_json, str(len(plan)),
                  *(x for member, at in plan.items() for x in (member, str(at))), *_pairs(fields)])

    async def step(self, incident_id: str, phase: int, index: int, action: str, event: Event, *, channel: str = "",
                   playbook: str = "", part: str = "", member: str = "", token: str = "", lock_ms: int = 0) -> Any:
        """With `channel`, a click: checked against the channel's incident, and `part`'s lock taken with `token`."""
        return await self._step(
            keys=[*_timeline(incident_id), keys.channel(channel), keys.render_lock(incident_id, part),
                  keys.rendered(incident_id), keys.dirty()],
            args=[str(phase), str(index), action, event.actor, str(event.at), event.id, event.data_json,
                  incident_id if channel else "", playbook, token, str(lock_ms), part, member])

    async def complete(self, incident_id: str, phase: int, nsteps: int, last: bool, event: Event, cause: str,
                       resolution: str, rca_member: str, rca_due_ms: int, unschedule: list[str],
                       marks: Marks | None = None) -> Any:
        return await self._complete(
            keys=[*_timeline(incident_id), keys.open_incidents(), keys.due(), keys.open_by_playbook(), keys.pages(),
                  keys.pager(incident_id), keys.rca_due()],
            args=[str(phase), str(nsteps), "1" if last else "0", *_event_args(event), event.data_json, cause,
                  resolution, rca_member, str(rca_due_ms), *unschedule],
            first=_marking(marks))

    async def set_fields(self, incident_id: str, fields: dict[str, str], event: Event | None,
                         require_open: bool, marks: Marks | None = None) -> Any:
        ev = event or Event(type="", actor="", at=0)
        return await self._set_fields(
            keys=_timeline(incident_id),
            args=["1" if require_open else "0", *_event_args(ev), ev.type, ev.data_json, *_pairs(fields)],
            first=_marking(marks))

    async def acknowledge(self, incident_id: str, levels: list[int], event: Event, page_roles: list[str],
                          note: bool, marks: Marks | None = None) -> Any:
        return await self._acknowledge(
            keys=[*_timeline(incident_id), keys.pages(), keys.pager(incident_id)],
            args=[*_event_args(event), event.type, event.data_json, json.dumps(levels), json.dumps(page_roles),
                  "1" if note else "0"],
            first=_marking(marks))

    async def note(self, incident_id: str, event: Event) -> Any:
        return await self._note(
            keys=[keys.incident(incident_id), keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=[*_event_args(event), event.type, event.data_json])

    async def page_request(self, incident_id: str, role: str, dedup_key: str, why: str, event: Event) -> Any:
        return await self._page_request(
            keys=[keys.incident(incident_id), keys.timeline(incident_id), keys.timeline_seen(incident_id),
                  keys.pages(), keys.pager(incident_id), keys.pager_index()],
            args=[role, dedup_key, why, *_event_args(event), event.data_json])

    async def page_done(self, incident_id: str, member: str, owner: str, event: Event) -> Any:
        return await self._page_done(
            keys=[keys.pages(), keys.job(member), keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=[member, owner, event.id, event.type, event.actor, str(event.at), event.data_json])

    async def retry(self, due_set: str, member: str, owner: str, delay_ms: int, counted: bool) -> Any:
        return await self._retry(keys=[due_set, keys.job(member)],
                                 args=[member, owner, str(delay_ms), "1" if counted else "0"])

    async def abandon(self, incident_id: str, event: Event) -> Any:
        return await self._abandon(
            keys=[keys.incident(incident_id), keys.timeline(incident_id), keys.timeline_seen(incident_id),
                  keys.open_incidents(), keys.open_by_playbook()],
            args=[incident_id, *_event_args(event), event.type, event.data_json])

    async def status_update(self, incident_id: str, event: Event, require_open: bool) -> Any:
        return await self._status_update(keys=_timeline(incident_id),
                                         args=["1" if require_open else "0", *_event_args(event), event.data_json])

    async def rca_reviewed(self, incident_id: str, member: str, event: Event, marks: Marks | None = None) -> Any:
        return await self._rca_reviewed(keys=[*_timeline(incident_id), keys.rca_due(), keys.job(member)],
                                        args=[member, *_event_args(event), event.data_json],
                                        first=_marking(marks))

    async def now(self) -> Any:
        return await self._now(keys=[keys.clock_offset()], args=[])

    async def due(self, sets: list[str], limit: int, age_ms: int = 0) -> Any:
        return await self._due(keys=sets, args=[str(limit), str(age_ms)])

    async def reserve(self, sets: list[str], limit: int, lease_ms: int) -> Any:
        return await self._reserve(keys=[*sets, keys.reserved_due()], args=[str(limit), str(lease_ms)])

    async def trim_reserved(self, sets: list[str], limit: int) -> Any:
        return await self._trim_reserved(keys=[*sets, keys.reserved_due()], args=[str(limit)])

    async def claim(self, owner: str, lease_ms: int, max_attempts: int, items: list[ClaimItem],
                    also: Also | None = None) -> tuple[Any, int, list[Any]]:
        """The answer, how many replicas confirmed the claims (their attempt counters survive a failover), and
        the answers of what `also` queued after it on the same connection."""
        return await self._claim.acked(keys=[keys.reserved_due(),
                                             *(k for i in items for k in (i.due_set, keys.job(i.member), i.live_key))],
                                 args=[owner, str(lease_ms), str(max_attempts),
                                       *(a for i in items for a in (i.member, i.reserved, i.due_score, i.live_field,
                                                                    i.live_value, i.met_field))],
                                 also=also)

    async def renew(self, owner: str, lease_ms: int, items: list[tuple[str, str]]) -> Any:
        """`items`: (due set, member) of every claim to renew."""
        return await self._renew(keys=[k for due_set, member in items for k in (due_set, keys.job(member))],
                                 args=[owner, str(lease_ms), *(member for _, member in items)])

    async def confirm(self, due_set: str, member: str, incident_id: str, owner: str, lease_ms: int, event: Event,
                      need_phase: int | None, set_severity: str, live_field: str, live_value: str,
                      met_field: str, fields: dict[str, str], pages: list[dict[str, str]], part: str = "",
                      part_member: str = "", posting_ms: int = 0) -> Any:
        """With `part`, the part the item posts is marked dirty and being posted (for `posting_ms`)."""
        return await self._confirm(
            keys=[due_set, keys.job(member), *_timeline(incident_id), keys.pages(), keys.pager(incident_id),
                  keys.pager_index(), keys.posting(incident_id, part), keys.dirty()],
            args=[member, owner, event.id, event.type, event.data_json, "" if need_phase is None else str(need_phase),
                  set_severity, live_field, live_value, met_field, json.dumps(pages), str(lease_ms), part_member,
                  str(posting_ms), *_pairs(fields)])

    async def release(self, due_set: str, member: str, owner: str) -> Any:
        return await self._release(keys=[due_set, keys.job(member)], args=[member, owner])

    async def finish(self, due_set: str, member: str, incident_id: str) -> Any:
        return await self._finish(keys=[due_set, keys.job(member), keys.incident(incident_id)], args=[member])

    async def lock_part(self, incident_id: str, part: str, member: str, token: str, lock_ms: int) -> Any:
        return await self._lock_part(
            keys=[keys.render_lock(incident_id, part), keys.incident(incident_id), keys.steps(incident_id),
                  keys.rendered(incident_id), keys.dirty()],
            args=[token, str(lock_ms), part, member])

    async def part_drawn(self, incident_id: str, part: str, member: str, token: str, version: int, digest: str,
                         lock_ms: int) -> Any:
        return await self._part_drawn(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.rendered(incident_id),
                  keys.render_lock(incident_id, part), keys.dirty(), keys.dirty_attempts()],
            args=[part, token, str(version), digest, str(lock_ms), member])

    async def posting(self, incident_id: str, part: str, member: str, ttl_ms: int | None) -> Any:
        """A first post under way for `ttl_ms`, or (None) over without a ts; the part dirty either way."""
        return await self._posting(keys=[keys.posting(incident_id, part), keys.dirty()],
                                   args=["" if ttl_ms is None else str(ttl_ms), member])

    async def server_since(self, run_id: str, replid: str) -> Any:
        """Record the primary INFO named (bot/unbroken.py); since when it is recorded."""
        return await self._server_since(keys=[keys.server_since()], args=[run_id, replid])

    async def part_failed(self, incident_id: str, part: str, member: str, token: str, max_attempts: int) -> Any:
        return await self._part_failed(keys=[keys.render_lock(incident_id, part), keys.dirty(), keys.dirty_attempts()],
                                       args=[token, member, str(max_attempts)])

    async def part_posted(self, incident_id: str, part: str, member: str, version: int, digest: str, token: str,
                          lock_ms: int, fields: dict[str, str], item: tuple[str, str] | None = None) -> Any:
        """`item`: (due set, member) of the scheduled item the post finishes, if any."""
        due_set, done = item or ("", "")
        return await self._part_posted(
            keys=[keys.incident(incident_id), keys.steps(incident_id), keys.rendered(incident_id),
                  keys.posting(incident_id, part), keys.render_lock(incident_id, part), keys.dirty(),
                  keys.dirty_attempts(), *((due_set, keys.job(done)) if item else ())],
            args=[part, str(version), digest, member, token, str(lock_ms), done, *_pairs(fields)])

    async def alert_enqueue(self, group: str, member: str, group_key: str, delivery: str, keep: int,
                            ttl_ms: int) -> Any:
        return await self._alert_enqueue(
            keys=[keys.alert_group(group), keys.alert_inbox(group), keys.alert_seen(group), keys.alert_due()],
            args=[member, group_key, delivery, str(keep), str(ttl_ms)])

    async def alert_begin(self, group: str, expected: str, mode: str, firing: list[str]) -> Any:
        return await self._alert_begin(
            keys=[keys.alert_group(group), keys.alert_seen(group), keys.incident(expected), keys.incident_seq()],
            args=[expected, mode, *firing])

    async def alert_record(self, group: str, incident_id: str, status: str, actor: str, at: int, max_rows: int,
                           alerts: list[tuple[str, str]], marks: Marks | None = None) -> Any:
        return await self._alert_record(
            keys=[keys.alert_group(group), keys.alert_seen(group), keys.incident(incident_id),
                  keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=[status, actor, str(at), str(max_rows), *(x for pair in alerts for x in pair)],
            first=_marking(marks))

    async def alert_link(self, group: str, incident_id: str, expected: str, actor: str, at: int) -> Any:
        return await self._alert_link(
            keys=[keys.alert_group(group), keys.incident(expected), keys.incident(incident_id),
                  keys.timeline(incident_id), keys.timeline_seen(incident_id)],
            args=[incident_id, expected, group, actor, str(at)])

    async def alert_finish(self, group: str, member: str, owner: str, last_seq: int, retry_at: int | None) -> Any:
        return await self._alert_finish(
            keys=[keys.alert_due(), keys.job(member), keys.alert_group(group), keys.alert_inbox(group)],
            args=[member, owner, str(last_seq), "" if retry_at is None else str(retry_at)])
