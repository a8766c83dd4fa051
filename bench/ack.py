"""1. Ack latency: signed requests to the bot and to the floor (a bare Bolt app that only acks).

Both servers are separate processes pinned to the same core; the load generator, the fake Slack (this
process) and Redis share the other core, so neither server competes with the harness for CPU.
Kinds: `/incident help` (answered in the ack), `/incident quick` (ack, then views.open), and a Done/Undo
click on a step of a declared `perf` incident (ack, then one Lua script, chat.update, one more script).
Clicks go round 25 incidents × their Assess steps; every click flips its step, so each is a real change.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
KINDS = (HELP, QUICK, CLICK)
CONCURRENCY = (1, 20, 100)
ROUNDS = 2  # bot and floor alternate, twice per kind and level; samples are pooled
COUNTS = {1: (20, 200), 20: (100, 1000), 100: (200, 2000), 300: (300, 3000)}  # (warm-up, measured) requests
INCIDENTS = 25
TARGET_RATIO = 1.5
_GC_LINE = re.compile(r"bench\.gc: gc generation (\d) took ([\d.]+) ms")


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


async def run(ctx: Ctx, *, variant: str | None = None, kinds: tuple[str, ...] = KINDS,
              levels: tuple[int, ...] = CONCURRENCY, section: str = "1 ack latency", rounds: int = ROUNDS) -> None:
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
        if CLICK in kinds:
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
        for p in (bot, floor):  # Bolt's one-off auth.test, imports on first use: not part of any run
            await _load(p.url, 1, [], [command_body(fake, "help") for _ in range(5)], ctx.tmp, harness_cpus)
        await quiet(fake)
        results: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            for c in levels:
                warm_n, n = COUNTS[c]
                for name, server in [("bot", bot), ("floor", floor)] * rounds:
                    calls_before = len(fake.calls)
                    told_before = len(fake.response_urls)
                    cpu0 = server.cpu_seconds()
                    res = await _load(server.url, c, makers[kind](warm_n), makers[kind](n), ctx.tmp, harness_cpus)
                    await quiet(fake)
                    cpu = server.cpu_seconds() - cpu0
                    errors = sorted({f"{x.method}:{x.error}" for x in fake.calls[calls_before:] if not x.ok})
                    # Anything told to the person through a response_url here is an error report.
                    told = Counter(str(r.body.get("text", ""))[:70] for r in fake.response_urls[told_before:])
                    errors += [f"{k} error replies told to the user: “{t}…”" for t, k in told.most_common(2)]
                    agg = results.setdefault(f"{kind}|{c}|{name}", {"lat": [], "wall": 0.0, "status": Counter(),
                                                                   "cpu": 0.0, "sent": 0, "errors": set(),
                                                                   "slack": 0})
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
            if bad:
                note += f"; non-200: {bad}"
            if b["errors"]:
                note += f"; Slack errors: {', '.join(sorted(b['errors']))}"
            report.add(section, f"{kind}, c={c}: bot p50 / p99 / max",
                       f"{ms(pct(b['lat'], 50))} / {ms(p99b)} / {ms(max(b['lat']))}", note=note)
            report.add(section, f"{kind}, c={c}: p99 bot ÷ floor", f"{ratio:.2f}×",
                       f"≤ {TARGET_RATIO}×", ratio <= TARGET_RATIO and not bad)
            report.raw.setdefault("ack", {})[f"{section}|{kind}|{c}"] = {
                "bot": {"p50": pct(b["lat"], 50), "p99": p99b, "max": max(b["lat"]), "cpu_ms": cpu_b},
                "floor": {"p50": pct(f["lat"], 50), "p99": p99f, "max": max(f["lat"]), "cpu_ms": cpu_f},
                "ratio": ratio}
    report.add(section, "GC pauses over 5 ms in the server (gen 2: count, p50, max)",
               " · ".join(f"{name} {len(g2)}, {pct(g2, 50):.0f} ms, {max(g2, default=0):.0f} ms"
                          for name, (g2, _) in pauses.items()),
               note="over all the runs above; generation 0/1 pauses over 5 ms: "
                    + " · ".join(f"{name} {len(g01)}" for name, (_, g01) in pauses.items())
                    + " (a gc.callbacks hook in each server process logs them)")
    if section == "1 ack latency":
        _findings(report, results, kinds, levels, pauses)


def gc_pauses(log: Path) -> tuple[list[float], list[float]]:
    """Full (generation 2) and younger garbage-collection pauses, in ms, from a server's log."""
    full: list[float] = []
    young: list[float] = []
    for m in _GC_LINE.finditer(log.read_text(errors="replace")):
        (full if m.group(1) == "2" else young).append(float(m.group(2)))
    return full, young


def _findings(report: Report, results: dict[str, dict[str, Any]], kinds: tuple[str, ...],
              levels: tuple[int, ...], pauses: dict[str, tuple[list[float], list[float]]]) -> None:
    one = [r for k, r in results.items() if k.endswith("|1|floor")]
    if one:
        floor_p50 = pct([x for r in one for x in r["lat"]], 50)
        report.notes.append(
            f"Ack floor: even the bare Bolt app takes {floor_p50 * 1000:.0f} ms at concurrency 1. With "
            "process_before_response=False, Bolt's asyncio listener runner checks whether ack() was called every "
            "10 ms (`await asyncio.sleep(0.01)` in slack_bolt/listener/asyncio_runner.py), so no Bolt app answers "
            "in less; the bot matches the floor at concurrency 1.")
    (bot_full, _), (floor_full, _) = pauses["bot"], pauses["floor"]
    if bot_full and max(bot_full) > 20:
        report.notes.append(
            f"Ack tail: the bot's full (generation 2) garbage collections took a median {pct(bot_full, 50):.0f} ms "
            f"and up to {max(bot_full):.0f} ms ({len(bot_full)} of them over 5 ms in this section; the floor: "
            f"{len(floor_full)}, up to {max(floor_full, default=0):.0f} ms). Each one stops every request in "
            "flight, which is what lifts the p99 even of `/incident help`, which does nothing after ack(). The "
            "bot's heap is larger (its own modules, pydantic models, playbooks, templates) and every Slack call "
            "allocates a new aiohttp session. `gc.freeze()` once the app is built (bench.variant gcfreeze) "
            "takes the start-up heap out of these passes.")
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
        "bot does after ack() to cost about half the floor's whole request. Where the bot's extra time goes "
        "(`python -m bench.profile quick` / `click`, cProfile): slack_sdk's AsyncWebClient is given no aiohttp "
        "session, so every Web API call builds a ClientSession and opens a new TCP connection (and, against "
        "slack.com, a TLS handshake); redis-py parses every reply in pure Python (hiredis is not installed); "
        "Bolt's urllib parse of the URL-encoded click payload (which carries the whole message) costs the floor "
        "as much as the bot. `python -m bench.whatif ack` re-runs these loads with proposed changes patched in.")
