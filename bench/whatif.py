"""`python -m bench.whatif [ack|escalation …]`: the benchmarks that miss, re-run with proposed bot changes.

The changes are patched in at start-up by bench/variant.py (bot/ is not modified); each variant gets the
same load as in `make bench`, against a fresh Redis database, in the same run as the unchanged bot.
Writes bench/whatif.md. Not part of `make bench` (it takes about ten minutes).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from bench import ack, escalation
from bench.common import ROOT, Ctx, Report, bench_playbooks, conditions
from bench.run import markdown, table
from tests.redis_server import RedisServer

ACK_VARIANTS: tuple[str | None, ...] = (None, "session", "gcfreeze", "session,gcfreeze")
if os.environ.get("BENCH_HIREDIS_PATH"):  # hiredis is not a dependency: only with a folder that has it
    ACK_VARIANTS += ("hiredis", "session,hiredis,gcfreeze")
ESCALATION_VARIANTS = (None, "session")  # "drain" is built into the scheduler now


async def main_async(parts: list[str]) -> int:
    started = time.monotonic()
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="ib-bench-whatif-"))
    (tmp / "logs").mkdir()
    server = RedisServer()
    server.start()
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        info = await client.info("server") | await client.info("memory")
        conds = conditions(info, await client.config_get("append*"))
        ctx = Ctx(report=report, redis_url=server.url, redis_pid=server.process.pid if server.process else None,
                  playbooks=bench_playbooks(tmp), logdir=tmp / "logs", tmp=tmp)
        if "ack" in parts:
            for v in ACK_VARIANTS:
                await client.flushall()
                print(f"[whatif] ack, bot {v or 'as is'}", file=sys.stderr)
                await ack.run(ctx, variant=v, kinds=ack.KINDS, levels=(20, 100),
                              section=f"ack · {v or 'as is'}")
        if "overload" in parts:  # 300 clicks in flight: more Redis commands at once than redis-py's pool allows
            for v in (None, "pool"):
                await client.flushall()
                print(f"[whatif] overload, bot {v or 'as is'}", file=sys.stderr)
                await ack.run(ctx, variant=v, kinds=(ack.CLICK,), levels=(300,), rounds=1,
                              section=f"overload · {v or 'as is'}")
        if "escalation" in parts:
            for v in ESCALATION_VARIANTS:
                await client.flushall()
                print(f"[whatif] escalation, bot {v or 'as is'}", file=sys.stderr)
                await escalation.run(ctx, variant=v, section=f"escalation · {v or 'as is'}")
    finally:
        await client.aclose()
        server.close()  # stop it and remove its data folder (a 100,000-incident run leaves ~100 MB)
    report.rows = [r for r in report.rows if r.section.startswith(("ack", "overload", "escalation"))]
    print("\n".join(table(report)))
    text = markdown(report, conds, time.monotonic() - started, ["whatif", *parts])
    text = text.replace("# Benchmark results", "# What-if results (bench/variant.py patches; bot/ unchanged)", 1)
    text = re.sub(r"^`python -m bench\.run .*$", _header(parts, time.monotonic() - started), text, count=1, flags=re.M)
    (ROOT / "bench" / "whatif.md").write_text(text)
    return 0


def _header(parts: list[str], took: float) -> str:
    hiredis = os.environ.get("BENCH_HIREDIS_PATH")
    return (f"`python -m bench.whatif {' '.join(parts)}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{took:.0f} s. Each section is one bot variant (see bench/variant.py) under the load of the "
            "corresponding `make bench` benchmark, with the floor re-measured alongside"
            + (f"; hiredis variants import hiredis from {hiredis}" if hiredis else "") + ".")


def main() -> int:
    parts = sys.argv[1:] or ["ack", "overload", "escalation"]
    return asyncio.run(main_async(parts))


if __name__ == "__main__":
    sys.exit(main())
