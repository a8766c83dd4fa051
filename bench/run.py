"""`python -m bench.run [section …]`: run the benchmarks, print the table, write bench/results.local.md
(bench/results.md with BENCH_PUBLISH=1).

Sections: ack, declare, clicks, escalation, footprint (default: all, in that order). Everything runs on
127.0.0.1: one real redis-server (tests/redis_server.py: AOF on, appendfsync always, as the embedded one),
the fake Slack Web API (slackfake) in this process, and the bot as separate `python -m bot serve --http`
processes (or in this process where the benchmark must look inside it; each section says which).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from bench.common import ROOT, Ctx, Report, bench_playbooks, conditions, load_average
from tests.redis_server import RedisServer

SECTIONS = ("ack", "declare", "clicks", "escalation", "footprint")
RESULTS = ROOT / "bench" / "results.md"
LOCAL_RESULTS = ROOT / "bench" / "results.local.md"


def table(report: Report) -> list[str]:
    head = ["n", "#", "figure", "value", "target", "result"]
    rows = [[str(i), r.section, r.figure, r.value, r.target, r.verdict] for i, r in enumerate(report.rows, 1)]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return lines


def markdown(report: Report, conds: dict[str, str], took: float, sections: list[str]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = ["# Benchmark results", "",
           f"`python -m bench.run {' '.join(sections)}` (`make bench` runs them all), {when}, {took:.0f} s. "
           "Written by bench/run.py; figures, not tests.", "", "## Conditions", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in conds.items()]
    out += ["", "## Figures", "", "| # | figure | value | target | result | notes |", "|---|---|---|---|---|---|"]
    for r in report.rows:
        cells = [r.section, r.figure, r.value, r.target, f"**{r.verdict}**" if r.verdict == "MISS" else r.verdict,
                 r.note]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if report.notes:
        out += ["", "## Findings", ""]
        out += [f"- {n}" for n in report.notes]
    return "\n".join(out) + "\n"


async def main_async(sections: list[str]) -> int:
    started = time.monotonic()
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="ib-bench-"))
    logdir = tmp / "logs"
    logdir.mkdir()
    server = RedisServer()
    server.start()
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        info = await client.info("server") | await client.info("memory")
        config = await client.config_get("append*")
        conds = conditions(info, config)
        conds["set-up"] = ("everything on 127.0.0.1; one redis-server for the run (flushed per benchmark); fake Slack "
                           "(slackfake) in the harness process; bot = `python -m bot serve --http` "
                           "processes unless a row says otherwise (ack: launched through bench.variant gclog, "
                           "which only adds a GC-pause log); ack: bot and floor pinned to CPU 1, load generator, "
                           "fake Slack and Redis to CPU 0")
        pid = server.process.pid if server.process else None
        ctx = Ctx(report=report, redis_url=server.url, redis_pid=pid, playbooks=bench_playbooks(tmp),
                  logdir=logdir, tmp=tmp)
        for name in sections:
            await client.flushall()
            t0 = time.monotonic()
            print(f"[bench] {name} …", file=sys.stderr)
            module = importlib.import_module(f"bench.{name}")
            await module.run(ctx)
            print(f"[bench] {name} took {time.monotonic() - t0:.0f} s", file=sys.stderr)
    finally:
        await client.aclose()
        server.close()  # stop it and remove its data folder (a 100,000-incident run leaves ~100 MB)
    took = time.monotonic() - started
    conds["load average at end (1 / 5 / 15 min)"] = load_average()
    print()
    print("Conditions: " + "; ".join(f"{k}: {v}" for k, v in conds.items()))
    print()
    print("\n".join(table(report)))
    print()
    print("Notes:")
    for i, r in enumerate(report.rows, 1):
        if r.note:
            print(f"  [{i}] {r.note}")
    if report.notes:
        print()
        print("Findings:")
        for n in report.notes:
            print(f"- {n}")
    # The published bench/results.md changes only when asked (BENCH_PUBLISH=1 on a full run); otherwise the
    # table goes to the untracked bench/results.local.md, or next to the logs for a partial run.
    if sections != list(SECTIONS):
        target = tmp / "results.md"
    else:
        target = RESULTS if os.environ.get("BENCH_PUBLISH") == "1" else LOCAL_RESULTS
    target.write_text(markdown(report, conds, took, sections))
    print(f"\n({took:.0f} s; logs in {logdir}; results in {target})")
    shutil.rmtree(tmp / "playbooks", ignore_errors=True)
    return 0


def main() -> int:
    args = sys.argv[1:]
    unknown = [a for a in args if a not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    sections = [s for s in SECTIONS if s in args] if args else list(SECTIONS)
    return asyncio.run(main_async(sections))


if __name__ == "__main__":
    sys.exit(main())
