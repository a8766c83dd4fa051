"""4. Escalation at scale: 100,000 open incidents, 1,000 pings falling due per second, two bot processes.

Incidents are made directly through the store (Store.create_incident, link_channel, schedule), each with
its own channel in the fake. For `rate × window` of them, member "esc|<id>|0" falls due inside the window,
evenly spread; every incident also has "esc|<id>|1" due an hour later (so the due set still holds one item
per open incident when the instances are idle). The instances are two `python -m bot serve --http`
processes with their own tokens, so the fake tells their posts apart. Lateness is the fake's arrival time
of the chat.postMessage minus the due time (both epoch, same clock).

The scale is the issue's target by default; a smaller one for a busy machine:
`python -m bench.escalation --incidents 20000 --rate 400 --window 20` (or BENCH_ESCALATION="20000,400,20"
for `python -m bench.run`). `--replica` (BENCH_ESCALATION_REPLICA=1) adds a Redis replica and runs the bots
with REDIS_WAIT_REPLICAS=1, as behind Sentinel: every write waits for it, and a first attempt whose claim it
confirmed skips the look in the channel's history.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psutil
import redis.asyncio as aioredis

from bench.common import Ctx, TimedFake, bot_env, bot_proc, pct, seeded_fake
from bot.incident import Event
from bot.schedule import Due
from bot.store import Store
from bot.workflows.escalate import METADATA_TYPE
from tests.redis_server import RedisServer

LEAD_S = 3.0
IDLE_S = 10.0
BATCH = 100
TARGET_P99_S = 0.5
INTERVAL = 0.2  # SCHEDULER_INTERVAL: the bot's default


@dataclass(frozen=True)
class Load:
    incidents: int = 100_000  # open incidents
    rate: float = 1_000.0  # pings falling due per second in the window
    window_s: float = 20.0

    @property
    def pings(self) -> int:
        return min(self.incidents, round(self.rate * self.window_s))

    @classmethod
    def from_env(cls) -> Load:
        """BENCH_ESCALATION="incidents,rate,window" (any prefix of it), else the issue's target."""
        raw = os.environ.get("BENCH_ESCALATION", "")
        parts = [float(x) for x in raw.split(",") if x.strip()]
        d = cls()
        values = [*parts, *(d.incidents, d.rate, d.window_s)[len(parts):]]
        return cls(int(values[0]), values[1], values[2])


class HarnessPauses:
    """No automatic collections in this process while active, and a count of the full (generation 2) ones that
    ran anyway. The fake Slack stamps a call's arrival when its handler runs, so a pause here would count as
    lateness the bots never caused: the fake's 20,000 recorded calls made a full scan take 200-400 ms."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._began)

    def __enter__(self) -> HarnessPauses:
        gc.callbacks.append(self._callback)
        gc.disable()
        return self

    def __exit__(self, *_: object) -> None:
        gc.enable()
        gc.callbacks.remove(self._callback)

    def describe(self) -> str:
        if not self.pauses:
            return "no full GC in the harness during the burst (automatic collection off)"
        longest = max(self.pauses) * 1000
        return f"{len(self.pauses)} full GC(s) in the harness during the burst, longest {longest:.0f} ms"


async def redis_ms(store: Store) -> int:
    sec, usec = await store.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def load_incidents(store: Store, fake: TimedFake, n: int, *, window_s: float, lead_s: float,
                         pings: int | None = None) -> dict[str, int]:
    """Create `n` open `perf` incidents with channels, the first `pings` of them (all by default) with a ping
    due in the window; returns member -> due ms of the pings in the window."""
    now = await redis_ms(store)
    ids = [str(i) for i in range(1, n + 1)]
    channels = fake.add_channels_fast([f"inc-bench-{i}" for i in ids])
    for start in range(0, n, BATCH):
        chunk = list(zip(ids[start:start + BATCH], channels[start:start + BATCH], strict=True))
        await asyncio.gather(*(store.create_incident(
            i, f"bench-{i}",
            {"id": i, "playbook": "perf", "title": f"Checkout latency {i}", "severity": "P2",
             "service": "checkout-api", "description": "p99 above 3 s", "status": "open", "phase": "0",
             "commander": "U_DECLARER", "declared_by": "U_DECLARER", "declared_at": str(now - 14 * 60_000)},
            Event(type="declared", actor="U_DECLARER", at=now - 14 * 60_000,
                  data={"title": f"Checkout latency {i}", "severity": "P2", "playbook": "perf"}),
        ) for i, _ in chunk))
        await asyncio.gather(*(store.link_channel(i, cid, f"inc-bench-{i}") for i, cid in chunk))
    start_ms = await redis_ms(store) + int(lead_s * 1000)
    m = n if pings is None else pings
    due = {f"esc|{i}|0": start_ms + int(k * window_s * 1000 / m) for k, i in enumerate(ids[:m])}
    later = {f"esc|{i}|1": start_ms + 3_600_000 for i in ids}
    plan = [(Due.parse(m), at) for m, at in (due | later).items()]
    for start in range(0, len(plan), 10 * BATCH):
        await store.schedule(dict(plan[start:start + 10 * BATCH]))
    return due


def pings(fake: TimedFake, start: int = 0) -> list[tuple[str, Any]]:
    """(member, call) of every escalation post the fake received, from its `start`-th call on."""
    out = []
    for c in fake.calls[start:]:
        if c.method != "chat.postMessage":
            continue
        meta = c.args.get("metadata")
        if isinstance(meta, dict) and meta.get("event_type") == METADATA_TYPE:
            out.append((str((meta.get("event_payload") or {}).get("id")), c))
    return out


async def run(ctx: Ctx, *, variant: str | None = None, section: str = "4 escalation", load: Load | None = None) -> None:
    fake = await seeded_fake(latency=0.1)
    try:
        await _run(ctx, fake, variant, section, load or Load.from_env())
    finally:
        await fake.stop()


async def _commandstats(store: Store) -> Counter[str]:
    stats = await store.redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def _all_sent(fake: TimedFake, due: dict[str, int], timeout: float) -> None:  # noqa: ASYNC109
    """Wait until every ping of the window has been posted (each call looked at once: the list is long)."""
    seen: set[str] = set()
    scanned = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < len(due):
        n = len(fake.calls)
        seen.update(m for m, _ in pings(fake, scanned) if m in due)
        scanned = n
        await asyncio.sleep(0.25)


async def _forks_seen(store: Store, start_ms: int, out: list[float]) -> None:
    """Until cancelled: the second of the window at which Redis began each background save or AOF rewrite
    (a fork, which stalls the server for as long as it copies its page tables)."""
    busy = False
    while True:
        info = await store.redis.info("persistence")
        now = bool(info.get("aof_rewrite_in_progress") or info.get("rdb_bgsave_in_progress"))
        if now and not busy:
            out.append((await redis_ms(store) - start_ms) / 1000)
        busy = now
        await asyncio.sleep(0.05)


async def _replica_of(url: str) -> RedisServer:
    """A replica of the server at `url`, once it has caught up."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", port])
    replica.start()
    client = aioredis.Redis.from_url(replica.url, decode_responses=True)
    try:
        deadline = time.monotonic() + 30
        while (await client.info("replication")).get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis replica did not catch up within 30 s")
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()
    return replica


async def _run(ctx: Ctx, fake: TimedFake, variant: str | None, sec: str, load: Load) -> None:
    report = ctx.report
    # The harness's own store: no 1 s client timeouts, which a burst of set-up writes can exceed.
    store = Store(aioredis.Redis.from_url(ctx.redis_url, decode_responses=True))
    tag = f"-{variant.replace(',', '+')}" if variant else ""
    replica = await _replica_of(ctx.redis_url) if os.environ.get("BENCH_ESCALATION_REPLICA") == "1" else None
    envs = [bot_env(ctx.redis_url, fake, ctx.playbooks, token=f"xoxb-bench-{x}", interval=INTERVAL) for x in "ab"]
    for env in envs:
        env["REDIS_WAIT_REPLICAS"] = "1" if replica else "0"
    bots = [bot_proc(f"esc-bot-{x}{tag}", env, ctx.logdir, variant) for x, env in zip("ab", envs, strict=True)]
    me = psutil.Process(os.getpid())
    redis_ps = psutil.Process(ctx.redis_pid) if ctx.redis_pid else None
    replica_ps = psutil.Process(replica.process.pid) if replica and replica.process else None

    def cpu(p: psutil.Process) -> float:
        t = p.cpu_times()
        return float(t.user + t.system)

    try:
        for b in bots:
            b.spawn()
        await asyncio.gather(*(b.ready() for b in bots))
        rss_start = [b.rss_mb() for b in bots]
        t0 = time.monotonic()
        due = await load_incidents(store, fake, load.incidents, window_s=load.window_s, lead_s=LEAD_S,
                                   pings=load.pings)
        setup_s = time.monotonic() - t0
        # The fake's 100,000 channels live as long as the run: out of the harness's collections (as the bot keeps
        # its start-up heap out of its own), or a full scan of them stalls the fake and reads as lateness.
        gc.collect()
        gc.freeze()
        start_ms, end_ms = min(due.values()), max(due.values())
        # Wait for the window to open, then measure CPU over the burst.
        await asyncio.sleep(max(0.0, (start_ms - await redis_ms(store)) / 1000))
        load_avg = os.getloadavg()[0]
        cpu0 = [b.cpu_seconds() for b in bots] + [cpu(me)] + ([cpu(redis_ps)] if redis_ps else []) \
            + ([cpu(replica_ps)] if replica_ps else [])
        stats0 = await _commandstats(store)
        forks0 = int((await store.redis.info("stats"))["total_forks"])
        w0 = time.monotonic()
        forked_at: list[float] = []
        watch = asyncio.create_task(_forks_seen(store, start_ms, forked_at))
        try:
            with HarnessPauses() as harness_gc:
                await _all_sent(fake, due, load.window_s + 60)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        burst_s = time.monotonic() - w0
        cpu1 = [b.cpu_seconds() for b in bots] + [cpu(me)] + ([cpu(redis_ps)] if redis_ps else []) \
            + ([cpu(replica_ps)] if replica_ps else [])
        stats = await _commandstats(store) - stats0
        # An AOF rewrite forks a child whose CPU and disk writes psutil does not count with redis-server.
        stats_info = await store.redis.info("stats")
        forks = int(stats_info["total_forks"]) - forks0
        forked_note = (f"Redis forked at second(s) {', '.join(f'{x:.1f}' for x in forked_at)} of the window "
                       f"(the last fork took {int(stats_info['latest_fork_usec']) / 1000:.0f} ms)") if forked_at \
            else "no fork seen during the burst"
        await asyncio.sleep(2.0)  # a duplicate would have arrived by now
        # Idle: every ping of the window sent, every incident open, one item each due in an hour.
        idle0 = [b.cpu_seconds() for b in bots]
        r0 = cpu(redis_ps) if redis_ps else 0.0
        await asyncio.sleep(IDLE_S)
        idle = [(b.cpu_seconds() - c) / IDLE_S for b, c in zip(bots, idle0, strict=True)]
        redis_idle = ((cpu(redis_ps) - r0) / IDLE_S) if redis_ps else float("nan")
        rss_end = [b.rss_mb() for b in bots]
        open_n = await store.redis.scard("{ib}:open")
        due_n = await store.redis.zcard("{ib}:due")
    finally:
        gc.unfreeze()
        await store.close()
        for b in bots:
            b.stop()
        if replica:
            replica.close()

    sent = pings(fake)
    by_member = Counter(m for m, _ in sent)
    dups = sum(v - 1 for v in by_member.values() if v > 1)
    missing = [m for m in due if m not in by_member]
    mono_to_wall = time.time() - time.monotonic()
    first: dict[str, Any] = {}
    for m, c in sent:
        if m in due and (m not in first or c.at < first[m].at):
            first[m] = c
    late = sorted(((c.at + mono_to_wall) * 1000 - due[m]) / 1000 for m, c in first.items())
    per_bot = Counter(c.token for _, c in sent)
    errors = Counter(c.error for _, c in sent if not c.ok)
    # Lateness along the window: is there a backlog that grows while pings fall due faster than they go out?
    order = sorted(first, key=lambda m: due[m])
    tenth = max(1, len(order) // 10)
    deciles = [pct([((first[m].at + mono_to_wall) * 1000 - due[m]) / 1000 for m in order[k:k + tenth]], 50)
               for k in range(0, len(order) - tenth + 1, tenth)][:10]
    # Where in the window the latest 1% fell due (seconds from its start): a cluster is one stall, not a trend.
    worst = sorted(first, key=lambda m: (first[m].at + mono_to_wall) * 1000 - due[m])[-max(1, len(first) // 100):]
    tail_at = Counter(int((due[m] - start_ms) / 1000) for m in worst)
    rate = len(due) / load.window_s
    out_rate = len(first) / max(1e-9, (max(c.at for c in first.values()) - min(c.at for c in first.values()))) \
        if first else 0.0
    burst_cpu = [(b - a) / burst_s for a, b in zip(cpu0, cpu1, strict=True)]
    names = ["bot a", "bot b", "fake Slack + harness", "redis-server"][:3 + bool(redis_ps)]
    names += ["redis replica"] if replica_ps else []
    history = sum(1 for c in fake.calls if c.method == "conversations.history")
    # Redis work per ping over the burst: every script call (EVALSHA) and every command, scripts' own included.
    n = max(1, len(first))
    scripts, commands = stats["evalsha"] + stats["eval"], sum(stats.values())
    sched = (f"per ping sent: {scripts / n:.1f} script calls, {commands / n:.1f} Redis commands in all, "
             f"{history / n:.2f} conversations.history calls; Redis forked {forks} time(s) (AOF rewrites); "
             f"{forked_note}; {harness_gc.describe()}")
    report.add(sec, "pings sent / due in the window", f"{len(first)} / {len(due)}", f"{len(due)}",
               len(first) == len(due),
               note=f"{load.incidents:,} open incidents; window {load.window_s:.0f} s ({rate:.0f} pings/s due); "
                    f"sent at {out_rate:.0f}/s; per instance {dict(per_bot)}; Slack errors {dict(errors) or 'none'}; "
                    f"fake Slack answers each call after 0.1 s; "
                    f"{'a Redis replica, REDIS_WAIT_REPLICAS=1' if replica else 'no Redis replica'}; "
                    f"load average (1 min) {load_avg:.2f} at the start")
    report.add(sec, "ping lateness p50 / p99 / max",
               f"{pct(late, 50):.2f} s / {pct(late, 99):.2f} s / {max(late) if late else float('nan'):.2f} s",
               f"p99 ≤ {TARGET_P99_S:g} s", bool(late) and pct(late, 99) <= TARGET_P99_S,
               note="median lateness by tenth of the window: " + " ".join(f"{d:.2f}" for d in deciles)
               + " s; the latest 1% fell due in second(s) "
               + ", ".join(f"{s} ({n})" for s, n in sorted(tail_at.items()))
               + f" of the window; {sched}")
    if sec == "4 escalation" and late and pct(late, 99) > TARGET_P99_S:
        report.notes.append(
            f"Escalation lateness: {len(due):,} pings fell due at {rate:.0f}/s with {load.incidents:,} incidents "
            "open; busy share of one core over the burst: "
            + " · ".join(f"{nm} {x * 100:.0f}%" for nm, x in zip(names, burst_cpu, strict=True))
            + f" ({os.cpu_count()} cores; load average {load_avg:.2f} at the start). Median lateness by tenth of "
            "the window: " + " ".join(f"{d:.1f}" for d in deciles) + " s: a rising row is a backlog that grows "
            "while pings fall due faster than they go out.")
    report.add(sec, "duplicate pings", str(dups), "0", dups == 0, note=f"{len(missing)} never sent")
    per_ping = [(b - a) * 1000 / n for a, b in zip(cpu0, cpu1, strict=True)]
    report.add(sec, "CPU per ping sent",
               " · ".join(f"{nm} {x:.2f} ms" for nm, x in zip(names, per_ping, strict=True)),
               note=f"busy share of one core over the {burst_s:.1f} s burst: "
                    + " · ".join(f"{nm} {x * 100:.0f}%" for nm, x in zip(names, burst_cpu, strict=True))
                    + f"; {os.cpu_count()} cores in all")
    report.add(sec, f"idle CPU per instance (10 s, {open_n:,} open)",
               " · ".join(f"{x * 100:.2f}%" for x in idle), note=f"per process (psutil user+sys); "
               f"redis-server {redis_idle * 100:.2f}%; due set {due_n:,} items, open set {open_n:,}")
    if not variant:
        report.add("5 footprint", f"bot process RSS with {open_n:,} open incidents",
                   " · ".join(f"{x:.0f} MB" for x in rss_end),
                   note="at start " + " · ".join(f"{x:.0f} MB" for x in rss_start)
                   + f"; after sending {len(first):,} pings")
    report.raw.setdefault("escalation", {})[variant or "as is"] = {
        "load": {"incidents": load.incidents, "rate": load.rate, "window_s": load.window_s},
        "setup_s": setup_s, "late": {"p50": pct(late, 50), "p99": pct(late, 99), "max": max(late) if late else None},
        "deciles": deciles, "tail_at": dict(tail_at),
        "dups": dups, "missing": len(missing), "burst_s": burst_s, "burst_cpu": burst_cpu,
        "idle_cpu": idle, "rss_start": rss_start, "rss_end": rss_end, "start_ms": start_ms, "end_ms": end_ms,
        "load_avg": load_avg, "commandstats": dict(stats), "redis_forks": forks}
    print(f"  escalation {load}: set-up {setup_s:.1f} s, sent {len(first)}/{len(due)}, late p50 {pct(late, 50):.2f} "
          f"p99 {pct(late, 99):.2f} max {max(late) if late else float('nan'):.2f} s, deciles "
          f"{[round(d, 2) for d in deciles]}, "
          f"latest 1% due at {dict(sorted(tail_at.items()))}, dups {dups}, missing {len(missing)}, burst cpu "
          f"{[round(x, 2) for x in burst_cpu]}, idle {idle}, {sched}, load avg {load_avg:.2f}", file=sys.stderr)


def main() -> int:
    """Run this benchmark alone, at the scale given (bench.run's Redis, fake Slack and report)."""
    from bench import run as runner

    d = Load()
    parser = argparse.ArgumentParser(prog="python -m bench.escalation", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=d.incidents, help="open incidents")
    parser.add_argument("--rate", type=float, default=d.rate, help="pings falling due per second")
    parser.add_argument("--window", type=float, default=d.window_s, help="seconds during which pings fall due")
    parser.add_argument("--replica", action="store_true",
                        help="add a Redis replica; the bots run with REDIS_WAIT_REPLICAS=1")
    args = parser.parse_args()
    os.environ["BENCH_ESCALATION"] = f"{args.incidents},{args.rate},{args.window}"
    if args.replica:
        os.environ["BENCH_ESCALATION_REPLICA"] = "1"
    return asyncio.run(runner.main_async(["escalation"]))


if __name__ == "__main__":
    sys.exit(main())
