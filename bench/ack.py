"""1. Ack latency: signed requests to the bot and to the floor (a bare Bolt app that only acks).

Both servers are separate processes pinned to the same core; the load generator, the fake Slack (this
process) and Redis share the other core, so neither server competes with the harness for CPU.
Kinds: `/incident help` (answered in the ack), `/incident quick` (ack, then views.open), `/incident status` in
an incident channel (ack, views.open, then the incident read, the update rendered and views.update), and a
Done/Undo click on a step of a declared `perf` incident (ack, then the step script, chat.update, the script
letting go). Clicks go round 25 incidents × their Assess steps; every click flips its step, so each is a real
change. For the modal kinds, the time from sending the command to views.open reaching Slack is measured too
(Slack's trigger id is good for 3 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import aiohttp

from bench.common import (
    PY,
    ROOT,
    SECRET,
    Ctx,
    Report,
    TimedFake,
    bot_env,
    bot_proc,
    floor_proc,
    ms,
    pct,
    quiet,
    seeded_fake,
)
from bench.flows import click_body, command_body, declare
from bot.store import Store, connect
from tests.driver import SlackDriver

HELP, QUICK, CLICK = "/incident help", "/incident quick (modal)", "Done click"
STATUS = "/incident status (modal)"
KINDS = (HELP, QUICK, STATUS, CLICK)
MODALS = (QUICK, STATUS)  # kinds that open a modal: Slack's trigger id must reach views.open within 3 s
TRIGGER_S = 3.0
GC_TARGET_MS = 20
CONCURRENCY = (1, 20, 100)
ROUNDS = 2  # bot and floor alternate, twice per kind and level; samples are pooled
COUNTS = {1: (20, 200), 20: (100, 1000), 100: (200, 2000), 300: (300, 3000)}  # (warm-up, measured) requests
INCIDENTS = 25
TARGET_RATIO = 1.5
_GC_LINE = re.compile(r"bench\.gc: gc generation (\d) took ([\d.]+) ms(?: \(([\d.]+) ms CPU[^)]*\) at ([\d.]+))?")


class Clicks:
    """An endless sequence of step clicks that each change something: all steps done, then all undone, …"""

    def __init__(self, fake: TimedFake, declared: list[tuple[str, Any]], steps: int) -> None:
        self.fake = fake
        self.declared = declared  # (incident id, first phase message)
        self.steps = steps
        self.n = 0
        self.users = ["U_ALICE", "U_BOB", "U_ONCALL", "U_LEAD"]

    def next(self, count: int) -> list[str]:
        out = []
        k = len(self.declared)
        for _ in range(count):
            n = self.n
            self.n += 1
            incident_id, message = self.declared[n % k]
            step = (n // k) % self.steps
            action = "done" if (n // (k * self.steps)) % 2 == 0 else "undo"
            out.append(click_body(self.fake, message, incident_id, "perf", 0, step, action, self.users[n % 4]))
        return out


async def _load(url: str, concurrency: int, warmup: list[str], bodies: list[str], tmp: Path,
                cpus: list[int] | None) -> dict[str, Any]:
    spec = tmp / "load-spec.json"
    out = tmp / "load-out.json"
    spec.write_text(json.dumps({"url": url, "secret": SECRET, "concurrency": concurrency, "warmup": warmup,
                                "bodies": bodies}))
    proc = await asyncio.create_subprocess_exec(PY, "-m", "bench.load", str(spec), str(out), cwd=ROOT)
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, cpus)
    try:
        await asyncio.wait_for(proc.wait(), 300)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"load generator exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


async def after_ack_wait(url: str) -> tuple[int, float]:
    """How many listeners' work after an ack waited its turn so far, and the seconds they waited in all (the
    bot's /metrics: incidentbot_after_ack_wait_seconds)."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as resp:
        text = await resp.text()
    values = dict(re.findall(r"^incidentbot_after_ack_wait_seconds_(count|sum) (\S+)$", text, re.M))
    return int(float(values.get("count", 0))), float(values.get("sum", 0.0))


def _selected(env: str, default: tuple[Any, ...], cast: Callable[[str], Any]) -> tuple[Any, ...]:
    """BENCH_ACK_KINDS ("help,quick,status,click") or BENCH_ACK_LEVELS ("20,100") narrow a run."""
    raw = os.environ.get(env, "")
    if not raw:
        return default
    wanted = [cast(x.strip()) for x in raw.split(",") if x.strip()]
    return tuple(d for d in default if d in wanted)


async def run(ctx: Ctx, *, variant: str | None = None, kinds: tuple[str, ...] = KINDS,
              levels: tuple[int, ...] = CONCURRENCY, section: str = "1 ack latency", rounds: int = ROUNDS) -> None:
    kinds = _selected("BENCH_ACK_KINDS", kinds, lambda k: {"help": HELP, "quick": QUICK, "status": STATUS,
                                                           "click": CLICK}.get(k, k))
    levels = _selected("BENCH_ACK_LEVELS", levels, int)
    fake = await seeded_fake()
    try:
        await _run(ctx, fake, variant, kinds, levels, section, rounds)
    finally:
        await fake.stop()


async def _run(ctx: Ctx, fake: TimedFake, variant: str | None, kinds: tuple[str, ...], levels: tuple[int, ...],
               section: str, rounds: int) -> None:
    report, redis_pid = ctx.report, ctx.redis_pid
    cores = os.cpu_count() or 1
    server_cpus = [1] if cores >= 2 else None
    harness_cpus = [0] if cores >= 2 else None
    env = bot_env(ctx.redis_url, fake, ctx.playbooks)
    # Both servers log garbage collections over 5 ms (a gc callback; nothing else changes).
    bot = bot_proc(f"ack-bot{'-' + variant if variant else ''}", env, ctx.logdir,
                   f"{variant},gclog" if variant else "gclog")
    floor = floor_proc("ack-floor", {**env, "SLACK_BOT_TOKEN": "xoxb-floor", "BENCH_GCLOG": "1"}, ctx.logdir)
    own_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    store = Store(connect(ctx.redis_url))
    driver = SlackDriver("", fake)
    try:
        for p in (bot, floor):
            p.spawn(server_cpus)
        if harness_cpus:
            os.sched_setaffinity(0, harness_cpus)
            if redis_pid:
                os.sched_setaffinity(redis_pid, harness_cpus)
        await asyncio.gather(bot.ready(), floor.ready())
        makers: dict[str, Callable[[int], list[str]]] = {
            HELP: lambda n: [command_body(fake, "help") for _ in range(n)],
            QUICK: lambda n: [command_body(fake, "quick Checkout is slow") for _ in range(n)],
        }
        if CLICK in kinds or STATUS in kinds:
            # The incidents whose steps get clicked, declared through the real path one by one.
            declared = []
            for i in range(INCIDENTS):
                d = await declare(driver, bot.url, fake, "perf", f"Bench click target {i}")
                incident_id = await store.incident_for_channel(d.channel)
                assert incident_id is not None
                declared.append((incident_id, d.message))
            await quiet(fake)
            steps = sum(1 for b in declared[0][1].blocks if str(b.get("block_id", "")).startswith("step:0:"))
            makers[CLICK] = Clicks(fake, declared, steps).next
            channels = [message.channel for _, message in declared]
            makers[STATUS] = lambda n: [command_body(fake, "status", user="U_ALICE",
                                                     channel=channels[i % len(channels)]) for i in range(n)]
        for p in (bot, floor):  # Bolt's one-off auth.test, imports on first use: not part of any run
            await _load(p.url, 1, [], [command_body(fake, "help") for _ in range(5)], ctx.tmp, harness_cpus)
        await quiet(fake)
        results: dict[str, dict[str, Any]] = {}
        windows: dict[str, list[tuple[float, float]]] = {}  # "kind|c" -> (start, end) of each load, epoch s
        for kind in kinds:
            for c in levels:
                warm_n, n = COUNTS[c]
                for name, server in [("bot", bot), ("floor", floor)] * rounds:
                    calls_before = len(fake.calls)
                    told_before = len(fake.response_urls)
                    cpu0 = server.cpu_seconds()
                    bodies = makers[kind](n)
                    waited0 = await after_ack_wait(server.url) if name == "bot" else (0, 0.0)
                    began, began_mono = time.time(), time.monotonic()
                    res = await _load(server.url, c, makers[kind](warm_n), bodies, ctx.tmp, harness_cpus)
                    # GC pauses count from the first measured request sent to the last answer: the ones a
                    # measured request could wait on (`sent` is time.monotonic(), pauses are logged in epoch s).
                    windows.setdefault(f"{kind}|{c}", []).append((began + min(res["sent"]) - began_mono,
                                                                  time.time()))
                    await quiet(fake)
                    cpu = server.cpu_seconds() - cpu0
                    waited1 = await after_ack_wait(server.url) if name == "bot" else (0, 0.0)
                    errors = sorted({f"{x.method}:{x.error}" for x in fake.calls[calls_before:] if not x.ok})
                    # Anything told to the person through a response_url here is an error report.
                    told = Counter(str(r.body.get("text", ""))[:70] for r in fake.response_urls[told_before:])
                    errors += [f"{k} error replies told to the user: “{t}…”" for t, k in told.most_common(2)]
                    agg = results.setdefault(f"{kind}|{c}|{name}", {"lat": [], "wall": 0.0, "status": Counter(),
                                                                   "cpu": 0.0, "sent": 0, "errors": set(),
                                                                   "slack": 0, "opened": [], "unopened": 0,
                                                                   "filled": 0, "deferred": 0,
                                                                   "deferred_s": 0.0})
                    if kind in MODALS and name == "bot":
                        opened, unopened = trigger_ages(fake.calls[calls_before:], bodies, res["sent"])
                        agg["opened"] += opened
                        agg["unopened"] += unopened
                        agg["filled"] += len([x for x in fake.calls[calls_before:] if x.method == "views.update"])
                    agg["deferred"] += waited1[0] - waited0[0]
                    agg["deferred_s"] += waited1[1] - waited0[1]
                    agg["lat"] += res["lat"]
                    agg["wall"] += res["wall"]
                    agg["status"].update(res["status"])
                    agg["cpu"] += cpu
                    agg["sent"] += warm_n + n
                    agg["errors"].update(errors)
                    agg["slack"] += len(fake.calls) - calls_before
                    print(f"  {section} {kind} c={c} {name}: p50 {ms(pct(res['lat'], 50))} p99 "
                          f"{ms(pct(res['lat'], 99))} ({len(res['lat'])} in {res['wall']:.1f} s, "
                          f"{cpu * 1000 / (warm_n + n):.2f} ms CPU/request, {res['status']}, "
                          f"Slack errors {errors or 'none'})", file=sys.stderr)
    finally:
        await driver.close()
        await store.close()
        for p in (bot, floor):
            p.stop()
        if own_affinity is not None:
            os.sched_setaffinity(0, own_affinity)
            if redis_pid:
                try:
                    os.sched_setaffinity(redis_pid, own_affinity)
                except OSError:
                    pass
    log_errors = sum(1 for line in bot.log_path.read_text(errors="replace").splitlines()
                     if " ERROR " in line or line.startswith("Traceback"))
    pauses = {name: gc_pauses(p.log_path) for name, p in (("bot", bot), ("floor", floor))}
    if log_errors:
        report.notes.append(f"{section}: the bot logged {log_errors} ERROR lines or tracebacks; see {bot.log_path}")
    for kind in kinds:
        for c in levels:
            b, f = results[f"{kind}|{c}|bot"], results[f"{kind}|{c}|floor"]
            p99b, p99f = pct(b["lat"], 99), pct(f["lat"], 99)
            ratio = p99b / p99f if p99f else float("inf")
            bad = {k: v for k, v in b["status"].items() if k != "200"}
            cpu_b, cpu_f = b["cpu"] * 1000 / b["sent"], f["cpu"] * 1000 / f["sent"]
            note = (f"floor p50 {ms(pct(f['lat'], 50))} / p99 {ms(p99f)} / max {ms(max(f['lat']))}; "
                    f"CPU per request bot {cpu_b:.2f} ms, floor {cpu_f:.2f} ms; "
                    f"bot's Slack calls per request {b['slack'] / b['sent']:.2f}; "
                    f"{len(b['lat']) / b['wall']:.0f} vs {len(f['lat']) / f['wall']:.0f} req/s")
            if b["deferred"]:
                mean_ms = b["deferred_s"] * 1000 / b["deferred"]
                note += f"; bot's work after ack() waited for the burst's acks a mean {mean_ms:.0f} ms"
            if bad:
                note += f"; non-200: {bad}"
            if b["errors"]:
                note += f"; Slack errors: {', '.join(sorted(b['errors']))}"
            report.add(section, f"{kind}, c={c}: bot p50 / p99 / max",
                       f"{ms(pct(b['lat'], 50))} / {ms(p99b)} / {ms(max(b['lat']))}", note=note)
            report.add(section, f"{kind}, c={c}: p99 bot ÷ floor", f"{ratio:.2f}×",
                       f"≤ {TARGET_RATIO}×", ratio <= TARGET_RATIO and not bad)
            if kind in MODALS:
                ages = b["opened"]
                never = b["unopened"]
                report.add(section, f"{kind}, c={c}: command sent → views.open at Slack, p50 / p99 / max",
                           f"{ms(pct(ages, 50))} / {ms(pct(ages, 99))} / {ms(max(ages, default=float('nan')))}",
                           f"all < {TRIGGER_S:g} s (trigger id)", bool(ages) and not never and max(ages) < TRIGGER_S,
                           note=f"{len(ages)} measured commands; never opened: {never}; "
                                f"views.update (modal filled) {b['filled']} for {b['sent']} commands with warm-up"
                                + ("" if kind == STATUS else " (the declare modal needs no filling in)"))
            report.raw.setdefault("ack", {})[f"{section}|{kind}|{c}"] = {
                "bot": {"p50": pct(b["lat"], 50), "p99": p99b, "max": max(b["lat"]), "cpu_ms": cpu_b},
                "floor": {"p50": pct(f["lat"], 50), "p99": p99f, "max": max(f["lat"]), "cpu_ms": cpu_f},
                "ratio": ratio}
    for c in (*levels, None):
        spans = [w for k, ws in windows.items() if c is None or k.endswith(f"|{c}") for w in ws]
        longest = max((p.wall for p in pauses["bot"].of(full=True, windows=spans)), default=0.0)
        report.add(section, f"GC pauses over 5 ms, gen 2 ({'all runs' if c is None else f'runs at c={c}'}): "
                            "count, p50, max", " · ".join(f"{name} {gc_summary(p.of(full=True, windows=spans))}"
                                                          for name, p in pauses.items()),
                   f"none over {GC_TARGET_MS} ms (bot)", longest <= GC_TARGET_MS,
                   note="generation 0/1: " + " · ".join(f"{name} {gc_summary(p.of(full=False, windows=spans))}"
                                                       for name, p in pauses.items())
                        + "; wall time (what requests wait) and the CPU time of the longest (less when the process "
                          "was descheduled: the cores are shared); a gc.callbacks hook in each server logs them; "
                          "counted from the first measured request sent to the last answer (one between loads "
                          "delays no measured request)")
    if section == "1 ack latency":
        _findings(report, results, kinds, levels, pauses, [w for ws in windows.values() for w in ws])


def trigger_ages(calls: list[Any], bodies: list[str], sent: list[float]) -> tuple[list[float], int]:
    """Seconds from sending each command to its views.open reaching the fake Slack (both time.monotonic()),
    and how many commands never got one."""
    arrived = {str(c.args.get("trigger_id")): float(c.at) for c in calls if c.method == "views.open"}
    ages, never = [], 0
    for body, t in zip(bodies, sent, strict=True):
        at = arrived.get(parse_qs(body)["trigger_id"][0])
        if at is None:
            never += 1
        else:
            ages.append(at - t)
    return ages, never


class Pause(NamedTuple):
    """A garbage collection over 5 ms logged by a server: its generation, wall and CPU ms, and when (epoch s)."""

    generation: int
    wall: float
    cpu: float
    at: float


class Pauses(list[Pause]):
    def of(self, *, full: bool, windows: list[tuple[float, float]] | None = None) -> list[Pause]:
        """Generation 2 (`full`) or younger pauses, within `windows` (epoch s) when given."""
        return [p for p in self if (p.generation == 2) == full
                and (windows is None or any(a <= p.at <= b for a, b in windows))]


def gc_pauses(log: Path) -> Pauses:
    """The garbage-collection pauses over 5 ms a server logged."""
    return Pauses(Pause(int(m.group(1)), float(m.group(2)), float(m.group(3) or "nan"), float(m.group(4) or "nan"))
                  for m in _GC_LINE.finditer(log.read_text(errors="replace")))


def gc_summary(pauses: list[Pause]) -> str:
    """count, p50 and max wall ms (and the CPU ms of the longest)."""
    if not pauses:
        return "0"
    walls = [p.wall for p in pauses]
    longest = max(pauses, key=lambda p: p.wall)
    return f"{len(pauses)}, p50 {pct(walls, 50):.0f} ms, max {longest.wall:.0f} ms ({longest.cpu:.0f} ms CPU)"


def _findings(report: Report, results: dict[str, dict[str, Any]], kinds: tuple[str, ...],
              levels: tuple[int, ...], pauses: dict[str, Pauses], spans: list[tuple[float, float]]) -> None:
    one = [r for k, r in results.items() if k.endswith("|1|floor")]
    if one:
        floor_p50 = pct([x for r in one for x in r["lat"]], 50)
        report.notes.append(
            f"Ack floor: the bare Bolt app takes {floor_p50 * 1000:.0f} ms at concurrency 1. With "
            "process_before_response=False, Bolt's asyncio listener runner checks whether ack() was called every "
            "10 ms (`await asyncio.sleep(0.01)` in slack_bolt/listener/asyncio_runner.py). The bot answers the "
            "moment its listener acks (bot/ackfirst.py), so it can be faster than the floor.")
    bot_full = [p.wall for p in pauses["bot"].of(full=True, windows=spans)]
    floor_full = [p.wall for p in pauses["floor"].of(full=True, windows=spans)]
    idle = [p.wall for p in pauses["bot"].of(full=True) if not any(a <= p.at <= b for a, b in spans)]
    if bot_full and max(bot_full) > 20:
        report.notes.append(
            f"Ack tail: while the load was being sent, the bot's full (generation 2) garbage collections took a "
            f"median {pct(bot_full, 50):.0f} ms and up to {max(bot_full):.0f} ms ({len(bot_full)} of them over "
            f"5 ms; the floor: {len(floor_full)}, up to {max(floor_full, default=0):.0f} ms). Each one stops every "
            "request in flight. The bot runs full collections itself once no request came for half a second "
            "(bot/collector.py), so one lands in a load only when it starts just as the load does, or after a "
            "minute without one.")
    if idle:
        report.notes.append(
            f"Full collections between loads (no request waiting): {len(idle)}, up to {max(idle):.0f} ms; their "
            "length follows what the work after the acks left behind.")
    misses = [(k, c) for k in kinds for c in levels
              if pct(results[f"{k}|{c}|bot"]["lat"], 99) > TARGET_RATIO * pct(results[f"{k}|{c}|floor"]["lat"], 99)]
    if not misses:
        return

    def cpu(kind: str, who: str) -> float:
        rs = [results[f"{kind}|{c}|{who}"] for c in levels if c > 1]
        return sum(r["cpu"] for r in rs) * 1000 / max(1, sum(r["sent"] for r in rs))

    costs = "; ".join(f"{k}: bot {cpu(k, 'bot'):.2f} ms, floor {cpu(k, 'floor'):.2f} ms" for k in kinds)
    k, c = max(misses, key=lambda m: m[1])
    r = results[f"{k}|{c}|bot"]
    report.notes.append(
        "Ack latency misses (" + ", ".join(f"{k} at c={c}" for k, c in misses)
        + ("; for help see the tail note" if any(k == HELP for k, _ in misses) else "") + "): with 20 or 100 requests "
        "always in flight each server runs flat out on its core, so a request waits for the work queued ahead of "
        "it, and the bot's work after ack() (views.open; the step script, chat.update and the render script) runs "
        "on the same event loop as the next acks: latency ≈ requests in flight × CPU per request (e.g. "
        f"{k} at c={c}: {c} × {r['cpu'] * 1000 / r['sent']:.2f} ms ≈ {c * r['cpu'] / r['sent'] * 1000:.0f} ms; "
        f"measured p50 {pct(r['lat'], 50) * 1000:.0f} ms). CPU per request at c≥20 (server process, psutil): "
        f"{costs}. Holding p99 within {TARGET_RATIO}× the floor under such saturation would need everything the "
        "bot does after ack() to cost about half the floor's whole request. Where the bot's extra time goes: "
        "`python -m bench.profile quick|status|click` (cProfile of the bot under the same load).")
