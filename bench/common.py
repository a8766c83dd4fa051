"""What every benchmark shares: the timed fake Slack, bot and floor processes, percentiles, conditions."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bot.embedded_redis import free_port
from slackfake import BOT_USER, Channel, FakeSlack
from tests.driver import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = SIGNING_SECRET
# Every responder role of the playbooks used here has an entry, so no "no roster entry" message is posted;
# db-oncall is a user group, so declaring also asks Slack for the group's members.
ROSTER = {"perf-oncall": "U_ONCALL", "db-oncall": "S_DB", "perf-team": "S_PERF", "perf-lead": "U_LEAD",
          "incident-manager": "U_IM", "vp-engineering": "U_VP"}
# Converts the fake's monotonic arrival times to epoch seconds (same host clock as Redis TIME).
MONO_TO_WALL = time.time() - time.monotonic()


# ------------------------------------------------------------------------------------------------ results


@dataclass
class Row:
    section: str
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: informational, no target
    note: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "MISS")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # findings, causes of misses, with evidence
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.rows.append(Row(*args, **kwargs))


@dataclass
class Ctx:
    """What run.py hands every benchmark: one real redis-server for the whole run (flushed before each)."""

    report: Report
    redis_url: str
    redis_pid: int | None
    playbooks: Path
    logdir: Path
    tmp: Path


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
    return ordered[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ------------------------------------------------------------------------------------------------ fake Slack


class TimedFake(FakeSlack):
    """The tests' fake, also noting when each call was answered and over which TCP connection it came."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.peers: Counter[Any] = Counter()

    async def _handle_api(self, request: Any) -> Any:
        transport = request.transport
        self.peers[transport.get_extra_info("peername") if transport else None] += 1
        return await super()._handle_api(request)

    def _answer(self, call: Any, parse_error: str | None) -> Any:
        call.answered = time.monotonic()
        return super()._answer(call, parse_error)

    def add_channels_fast(self, names: list[str]) -> list[str]:
        """Like add_channel for many channels at once (add_channel scans every name: quadratic at 10,000)."""
        ids = []
        for name in names:
            cid = self._new_id("C")
            self.channels[cid] = Channel(cid, name, members={BOT_USER})
            ids.append(cid)
        return ids


def answered(call: Any) -> float:
    return float(getattr(call, "answered", call.at))


async def seeded_fake(latency: float = 0.0) -> TimedFake:
    fake = TimedFake(latency=latency)
    for uid in ("U_DECLARER", "U_ALICE", "U_BOB", "U_ONCALL", "U_LEAD", "U_IM", "U_VP", "U_P1", "U_P2", "U_DB1",
                "U_DB2"):
        if uid not in fake.users:
            fake.add_user(uid, uid.lower())
    fake.usergroups["S_PERF"] = ["U_P1", "U_P2"]
    fake.usergroups["S_DB"] = ["U_DB1", "U_DB2"]
    for name in ("incidents", "status"):
        fake.add_channel(name)
    await fake.start()
    return fake


async def quiet(fake: FakeSlack, idle: float = 0.3, limit: float = 15.0) -> None:
    """Wait until the fake has had no new or unanswered call for `idle` seconds (at most `limit`)."""
    deadline = time.monotonic() + limit
    seen = -1
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        n = len(fake.calls)
        pending = any(c.response is None for c in fake.calls[-200:])
        if n != seen or pending:
            seen, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since >= idle:
            return
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------------------------------------ processes


def bench_playbooks(tmp: Path) -> Path:
    """The shipped `perf` playbook and the tests' `quick` one side by side (`/incident perf`, `/incident quick`)."""
    out = tmp / "playbooks"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "playbooks" / "perf.md", out / "perf.md")
    shutil.copy(ROOT / "tests" / "playbooks" / "quick.md", out / "quick.md")
    return out


def bot_env(redis_url: str, fake: FakeSlack, playbooks: Path, *, token: str = "xoxb-bench",
            interval: float = 0.2) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ROSTER"))}
    env.update({
        "REDIS_URL": redis_url, "SLACK_API_URL": fake.url, "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": SECRET, "PLAYBOOKS_DIR": str(playbooks), "TEMPLATES_DIR": str(ROOT / "templates"),
        "SCHEDULER_INTERVAL": str(interval), "ANNOUNCE_CHANNEL": "#incidents", "STATUS_CHANNEL": "#status",
        "ROSTER": json.dumps(ROSTER), "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
    })
    return env


class Proc:
    """A server under test in its own process: the bot (`python -m bot serve --http`) or the floor app."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = env
        self.log_path = logdir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def spawn(self, cpus: list[int] | None = None) -> None:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen([PY, *self.args], env=self.env, cwd=ROOT, stdout=log,
                                          stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.popen.pid)
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.popen.pid, cpus)

    async def ready(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - bounded start-up wait
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.popen is not None and self.popen.poll() is not None:
                    break
                try:
                    async with session.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become healthy; see {self.log_path}:\n{self.tail()}")

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        assert self.ps is not None
        return float(self.ps.memory_info().rss) / 2**20

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)


def inproc_deps(ctx: Ctx, slack_url: str, **overrides: Any) -> Any:
    """Deps for a bot built inside this process (as tests/conftest.py builds one)."""
    from bot.deps import Deps
    from bot.playbook_file import load_playbooks
    from bot.settings import load_settings
    from bot.store import Store, connect

    settings = load_settings(env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                             slack_api_url=slack_url, redis_url=ctx.redis_url, playbooks_dir=ctx.playbooks,
                             templates_dir=ROOT / "templates", announce_channel="#incidents",
                             status_channel="#status", roster=ROSTER, **overrides)
    return Deps(settings=settings, store=Store(connect(ctx.redis_url)), playbooks=load_playbooks(ctx.playbooks))


def bot_proc(name: str, env: dict[str, str], logdir: Path, variant: str | None = None) -> Proc:
    """`python -m bot serve --http`; with `variant`, the same through bench.variant's patches."""
    launcher = ["-m", "bench.variant", variant] if variant else ["-m", "bot"]
    if variant and "hiredis" in variant.split(","):
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("BENCH_HIREDIS_PATH", ""),
                                                                  env.get("PYTHONPATH", "")]))}
    return Proc(name, [*launcher, "serve", "--http", "--port", "{port}"], env, logdir)


def floor_proc(name: str, env: dict[str, str], logdir: Path) -> Proc:
    return Proc(name, ["-m", "bench.floor", "--port", "{port}"], env, logdir)


# ------------------------------------------------------------------------------------------------ conditions


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def source_digest() -> str:
    """Which bot/ code was measured (others edit it while benchmarks run): digest and newest change."""
    import hashlib

    files = sorted((ROOT / "bot").rglob("*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(ROOT).as_posix().encode())
        digest.update(f.read_bytes())
    newest = max(files, key=lambda f: f.stat().st_mtime)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(newest.stat().st_mtime))
    return f"sha256 {digest.hexdigest()[:12]} over {len(files)} files; newest {newest.relative_to(ROOT)} ({when})"


def conditions(redis_info: dict[str, Any], redis_config: dict[str, str]) -> dict[str, str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "redis-server": f"{redis_info.get('redis_version')} (malloc {redis_info.get('mem_allocator')}, "
                        f"appendonly {redis_config.get('appendonly')}, appendfsync {redis_config.get('appendfsync')})",
        "slack-bolt / slack-sdk": f"{_version('slack-bolt')} / {_version('slack-sdk')}",
        "redis-py / aiohttp / pydantic": f"{_version('redis')} / {_version('aiohttp')} / {_version('pydantic')}",
        "hiredis": "installed" if _hiredis() else "not installed (redis-py parses replies in Python)",
        "bot/ sources": source_digest(),
        "load average at start (1 / 5 / 15 min)": load_average(),
    }


def load_average() -> str:
    """Other work on the machine while it was measured (the cores may be shared)."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _hiredis() -> bool:
    from redis.utils import HIREDIS_AVAILABLE

    return bool(HIREDIS_AVAILABLE)
