"""5. Footprint: Redis memory per incident with 500 timeline events, and the RCA for a 5,000-event timeline.

(The bot process's RSS with 10,000 open incidents is measured by the escalation benchmark, on its two
bot processes.) Incidents here are written through the store, as the handlers write them: the step
script for check-offs, set_fields for changes, the status-update script, add_event for notes, pings.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from bench.common import Ctx, inproc_deps
from bot import keys
from bot.incident import Event
from bot.store import Store, new_token
from bot.timeline_view import timeline_blocks

INCIDENTS = 20
EVENTS = 500
RCA_EVENTS = 5_000
RCA_RUNS = 5
RCA_TARGET_MS = 100
PEOPLE = ["U_DECLARER", "U_ALICE", "U_BOB", "U_ONCALL", "U_LEAD", "U_IM", "U_DB1", "U_DB2"]
WORDS = ("p99 checkout api database pool connections rollback deploy cache hit ratio replica lag latency "
         "errors 5xx upstream timeout retry queue depth cpu memory gc pause index query plan vacuum").split()


def _text(rng: random.Random, lo: int, hi: int) -> str:
    out: list[str] = []
    target = rng.randint(lo, hi)
    while sum(len(w) + 1 for w in out) < target:
        out.append(rng.choice(WORDS))
    return " ".join(out).capitalize() + "."


async def write_incident(store: Store, incident_id: str, n_events: int, book: Any, seed: int) -> None:
    """One `perf` incident with `n_events` timeline events in a realistic mix (notes dominate)."""
    rng = random.Random(seed)
    t = int(time.time() * 1000) - n_events * 20_000
    fields = {"id": incident_id, "playbook": "perf", "title": "Checkout p99 above 3 s", "severity": "P2",
              "service": "checkout-api", "description": _text(rng, 60, 200), "status": "open", "phase": "0",
              "commander": "U_DECLARER", "declared_by": "U_DECLARER", "declared_at": str(t)}
    await store.create_incident(incident_id, new_token(), fields, Event(
        type="declared", actor="U_DECLARER", at=t, data={"title": fields["title"], "severity": "P2",
                                                         "playbook": "perf"}))
    await store.link_channel(incident_id, f"CB{incident_id}", f"inc-bench-{incident_id}")
    await store.set_fields(incident_id, {"card_ts": f"{t / 1000:.6f}", "phase_ts:0": f"{t / 1000 + 1:.6f}"},
                           Event(type="channel_created", actor="bot", at=t,
                                 data={"channel": f"CB{incident_id}", "name": f"inc-bench-{incident_id}"}))
    steps = book.phases[0].steps
    done: set[int] = set()
    severity = "P2"
    for _k in range(n_events - 2):
        t += rng.randint(1_000, 40_000)
        who = rng.choice(PEOPLE)
        roll = rng.random()
        if roll < 0.12:  # check-off or undo
            s = rng.randrange(len(steps))
            action = "undo" if s in done else "done"
            done ^= {s}
            await store.step(incident_id, 0, s, action == "done", Event(
                type="step_done" if action == "done" else "step_undone", actor=who, at=t,
                data={"phase": 0, "step": s, "text": steps[s].text}))
        elif roll < 0.15:  # severity or commander change
            sev = rng.choice([x for x in ("P1", "P2", "P3") if x != severity])
            await store.set_fields(incident_id, {"severity": sev}, Event(
                type="severity_changed", actor=who, at=t, data={"from": severity, "to": sev}))
            severity = sev
        elif roll < 0.20:  # status update
            await store.record_status_update(incident_id, Event(
                type="status_update", actor=who, at=t, data={"kind": "progress", "text": _text(rng, 200, 600)}))
        elif roll < 0.21:  # escalation ping
            await store.add_event(incident_id, Event(
                type="escalated", actor="bot", at=t, data={"level": 0, "message": "Page the lead",
                                                           "notify": ["perf-lead"], "late": False, "late_ms": 0}))
        else:
            await store.add_event(incident_id, Event(type="note", actor=who, at=t,
                                                     data={"text": _text(rng, 30, 300)}))


def incident_keys(incident_id: str, channel: str) -> dict[str, str]:
    return {"incident hash": keys.incident(incident_id), "steps hash": keys.steps(incident_id),
            "timeline stream": keys.timeline(incident_id), "timeline-seen set": keys.timeline_seen(incident_id),
            "channel key": keys.channel(channel), "rendered hash": keys.rendered(incident_id)}


def rca_renderer(deps: Any) -> tuple[str, Callable[[Any, list[Event]], object]]:
    """HOOK: the RCA renderer. Uses bot.rca (people_in + render_markdown, as rca.post does, minus Slack) when
    it is there; otherwise falls back to timeline_blocks. Change this one function if the
    renderer's entry point moves."""
    try:
        from bot.workflows import rca

        render_markdown, people_in = rca.render_markdown, rca.people_in
    except (ImportError, AttributeError):
        return "timeline_blocks (RCA renderer not found)", \
            lambda inc, evs: timeline_blocks(inc, deps.book(inc.playbook), evs)

    def render(inc: Any, evs: list[Event]) -> object:
        people = {uid: uid.lower() for uid in people_in(inc, deps.book(inc.playbook), evs)}
        return render_markdown(deps, inc, evs, people, now_ms=int(time.time() * 1000))

    return "bot.workflows.rca.render_markdown (+ people_in)", render


async def run(ctx: Ctx) -> None:
    deps = inproc_deps(ctx, "http://127.0.0.1:9/api/")  # no Slack call is made here
    store: Store = deps.store
    admin = aioredis.Redis.from_url(ctx.redis_url, decode_responses=True)
    book = deps.book("perf")
    try:
        # ---- memory per incident with 500 events
        mem0 = (await admin.info("memory"))["used_memory"]
        aof0 = (await admin.info("persistence")).get("aof_current_size", 0)
        await asyncio.gather(*(write_incident(store, str(i), EVENTS, book, seed=i)
                               for i in range(1, INCIDENTS + 1)))
        locks = [k async for k in admin.scan_iter(match=keys.render_lock("*", "*"))]
        if locks:
            await admin.delete(*locks)  # short-lived (15 s) render locks, not part of an incident's footprint
        mem1 = (await admin.info("memory"))["used_memory"]
        aof1 = (await admin.info("persistence")).get("aof_current_size", 0)
        per_incident = (mem1 - mem0) / INCIDENTS
        usage = {}
        for name, key in incident_keys("1", "CB1").items():
            usage[name] = await admin.memory_usage(key, samples=0) or 0
        xlen = await admin.xlen(keys.timeline("1"))
        # ---- RCA for a 5,000-event timeline
        await write_incident(store, "rca", RCA_EVENTS, book, seed=99)
        incident = await store.get("rca")
        name, render = rca_renderer(deps)
        reads, renders, sizes = [], [], []
        # What earlier benchmarks left in this (the harness's) process is collected first: a full scan of it
        # during a render (over a second after the escalation benchmark) is not the RCA's. The bot collects in
        # quiet moments (bot/collector.py).
        gc.collect()
        for _ in range(RCA_RUNS):
            t0 = time.perf_counter()
            events = [ev async for ev in store.iter_timeline("rca")]
            t1 = time.perf_counter()
            out = render(incident, events)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            renders.append(t2 - t1)
            sizes.append(len(out) if isinstance(out, str) else len(str(out)))
        t0 = time.perf_counter()
        timeline_blocks(incident, book, events)
        timeline_cmd = time.perf_counter() - t0
    finally:
        await admin.aclose()
        await store.close()

    sec = "5 footprint"
    report = ctx.report
    report.add(sec, f"Redis memory per incident with {EVENTS} events", f"{per_incident / 1024:.0f} KiB",
               note=f"INFO used_memory delta over {INCIDENTS} incidents; MEMORY USAGE of incident 1: "
                    + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in usage.items())
                    + f" ({xlen} stream entries); AOF grows {(aof1 - aof0) / INCIDENTS / 1024:.0f} KiB per incident")
    total = [a + b for a, b in zip(reads, renders, strict=True)]
    report.add(sec, f"RCA for a {RCA_EVENTS:,}-event timeline (p50 / max of {RCA_RUNS})",
               f"{statistics.median(total) * 1000:.0f} ms / {max(total) * 1000:.0f} ms", f"≤ {RCA_TARGET_MS} ms",
               statistics.median(total) * 1000 <= RCA_TARGET_MS,
               note=f"in the harness process; {name}: read the timeline from Redis (pages of 1,000) "
                    f"{statistics.median(reads) * 1000:.0f} ms + render "
                    f"{statistics.median(renders) * 1000:.0f} ms, {sizes[-1] / 1024:.0f} KiB of Markdown; "
                    f"`/incident timeline` blocks for the same timeline {timeline_cmd * 1000:.0f} ms; "
                    "Slack calls (users.info, file upload) not included")
    from redis.utils import HIREDIS_AVAILABLE

    if not HIREDIS_AVAILABLE:
        report.notes.append(
            f"RCA: reading the {RCA_EVENTS:,}-event timeline from Redis ({statistics.median(reads) * 1000:.0f} ms) "
            f"costs more than rendering it ({statistics.median(renders) * 1000:.0f} ms): redis-py parses the "
            "XRANGE replies in pure Python because hiredis is not installed (cProfile: resp3._read_response and "
            "asyncio stream reads dominate). With hiredis importable (`pip install --target DIR hiredis`, then "
            "`PYTHONPATH=DIR python -m bench.run footprint`) the same read is several times faster.")
    report.raw["footprint"] = {"per_incident_bytes": per_incident, "usage": usage, "rca_read": reads,
                               "rca_render": renders, "renderer": name, "timeline_blocks": timeline_cmd}
    print(f"  footprint: {per_incident / 1024:.0f} KiB/incident {usage}; rca read {reads} render {renders}",
          file=sys.stderr)
