"""Load generator, run in its own process so the fake Slack's work never delays its clock.

`python -m bench.load SPEC OUT`: SPEC is JSON {url, secret, concurrency, warmup: [bodies], bodies: [bodies]};
every body is a form-encoded Slack request, signed just before it is sent. `concurrency` workers each
send one request at a time over a shared keep-alive connection pool. OUT gets JSON {lat: [seconds],
sent: [time.monotonic() when each was sent], status: {code: n}, wall: seconds} for the measured bodies (the
warm-up ones are sent first, same way).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tests.driver import sign


async def _send_all(session: aiohttp.ClientSession, url: str, secret: str, bodies: list[str],
                    concurrency: int) -> tuple[list[float], list[float], Counter[int], float]:
    lat: list[float] = [0.0] * len(bodies)
    sent: list[float] = [0.0] * len(bodies)  # time.monotonic(): one clock for every process on the host
    status: Counter[int] = Counter()
    todo = iter(enumerate(bodies))

    async def worker() -> None:
        for i, body in todo:
            ts = int(time.time())
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
                       "X-Slack-Signature": sign(body, ts, secret)}
            data = body.encode()
            sent[i] = time.monotonic()
            t0 = time.perf_counter()
            async with session.post(url, data=data, headers=headers) as resp:
                await resp.read()
                code = resp.status
            lat[i] = time.perf_counter() - t0
            status[code] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(bodies))))))
    return lat, sent, status, time.perf_counter() - t0


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    url = spec["url"].rstrip("/") + "/slack/events"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        if spec.get("warmup"):
            await _send_all(session, url, spec["secret"], spec["warmup"], spec["concurrency"])
        lat, sent, status, wall = await _send_all(session, url, spec["secret"], spec["bodies"], spec["concurrency"])
    return {"lat": lat, "sent": sent, "status": {str(k): v for k, v in status.items()}, "wall": wall}


def main() -> None:
    spec_path, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    result = asyncio.run(run(json.loads(spec_path.read_text())))
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
