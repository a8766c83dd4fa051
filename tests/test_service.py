"""Running it like a service: clean shutdown that hands work to another replica, /metrics, JSON logs,
start-up errors in one line, and `check` without any Slack settings."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot import keys
from bot.embedded_redis import free_port
from tests.conftest import TEST_PLAYBOOKS, eventually
from tests.driver import SIGNING_SECRET
from tests.flows import declare, phase_message
from tests.test_escalation import ping_ids

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-test-secret-token"
ROUTING_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
WEBHOOK_SECRET = "pd-webhook-secret-in-env"


def bot_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "PLAYBOOKS_DIR": str(TEST_PLAYBOOKS), "TEMPLATES_DIR": str(ROOT / "templates"), **extra}


def start_bot(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def until_healthy(port: int, proc: subprocess.Popen[str]) -> None:
    async with aiohttp.ClientSession() as session:
        async def up() -> bool:
            assert proc.poll() is None, proc.communicate()
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False
        await eventually(up, timeout=20, interval=0.1)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def stopped(proc: subprocess.Popen[str], timeout: float = 15.0) -> tuple[int, str]:  # noqa: ASYNC109
    """Send SIGTERM and wait for the exit without blocking the loop; (exit code, stderr)."""
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.to_thread(proc.communicate, timeout=timeout)
    return proc.returncode, err


async def test_sigterm_stops_cleanly_with_no_redis_left_and_json_logs(tmp_path):
    port = free_port()
    state = tmp_path / "state"
    roster = json.dumps({"perf-lead": {"slack": "U_LEAD", "pagerduty": ROUTING_KEY}})
    proc = start_bot(bot_env(STATE_DIR=str(state), LOG_FORMAT="json", SLACK_API_URL="http://127.0.0.1:9/api/",
                             ROSTER=roster, PAGERDUTY_WEBHOOK_SECRET=WEBHOOK_SECRET), port)
    try:
        await until_healthy(port, proc)
        redis_pids = children(proc.pid)
        assert redis_pids, "the embedded redis-server runs as a child"
    finally:
        code, err = await stopped(proc)
    assert code == 0, err
    assert not [p for p in redis_pids if alive(p)], "a redis-server outlived the bot"
    assert (state / "appendonlydir").exists() or (state / "appendonly.aof").exists()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["msg"] == "stopped" for line in lines)
    assert any(line["msg"].startswith("alerts are off: ALERT_WEBHOOK_TOKEN is not set") for line in lines)
    assert TOKEN not in err and "xoxb-" not in err.replace("xoxb-…", "")
    assert ROUTING_KEY not in err and WEBHOOK_SECRET not in err


class HangingSlack:
    """A Slack that answers auth.test and history (an empty channel), and never answers anything else: a
    replica stuck mid-ping."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.handle)
        self.runner = web.AppRunner(app)
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "conversations.history":
            return web.json_response({"ok": True, "messages": [], "has_more": False})
        if method != "auth.test":
            await self.release.wait()
        return web.json_response({"ok": True, "user_id": "U_BOT", "team_id": "T_TEST"})

    async def __aenter__(self) -> str:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/api/"

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.runner.cleanup()


async def test_stopping_replica_hands_its_ping_to_another_at_once(make_bot, driver, fake_slack, redis_url):
    # Declared so that the first escalation (2 s after declaration) is due half a second from now.
    requester = await make_bot(run_scheduler=False, clock=lambda: int(time.time() * 1000) - 1500)
    inc = await declare(driver, requester, fake_slack, "quick Handed over")
    store = requester.deps.store
    member = f"esc|{inc.incident_id}|0"
    async with HangingSlack() as hanging_url:
        port = free_port()
        # A long lease, renewed while the replica is stuck: only handing the ping back lets another send it soon.
        proc = start_bot(bot_env(REDIS_URL=redis_url, SLACK_API_URL=hanging_url, SCHEDULER_INTERVAL="0.1",
                                 SHUTDOWN_TIMEOUT="0.5", ESCALATION_LEASE_SECONDS="60",
                                 ROSTER=json.dumps({"perf-lead": "U_LEAD"})), port)
        try:
            # The stopping replica has claimed the ping and is stuck posting it.
            await eventually(lambda: store.redis.hget(keys.job(member), "confirmed"), timeout=20)
            await make_bot()  # another replica, which must not wait for the lease to run out
        finally:
            stopping = asyncio.get_running_loop().time()
            code, err = await stopped(proc)
        assert code == 0, err
        assert "handed back 1" in err
    await eventually(lambda: member in ping_ids(fake_slack, inc.channel), timeout=15)
    call = next(c for c in fake_slack.calls_to("chat.postMessage")
                if c.ok and ((c.args.get("metadata") or {}).get("event_payload") or {}).get("id") == member)
    assert call.at - stopping < 15.0, "taken over only when the 60 s lease ran out"
    assert ping_ids(fake_slack, inc.channel).count(member) == 1


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_metrics_count_incidents_acks_and_slack_calls(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)

    async def scrape() -> str:
        async with driver.session.get(bot.url + "/metrics") as resp:
            assert resp.status == 200
            return await resp.text()

    before = await scrape()
    inc = await declare(driver, bot, fake_slack, "quick Measured")
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:0", user="U_ALICE", url=bot.url)
    await eventually(lambda: "✅" in str(phase_message(fake_slack, inc.channel, 0).blocks))
    after = await scrape()

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("incidentbot_incidents_declared_total", playbook="quick", source="slash") == 1
    assert metric(after, "incidentbot_incidents_open", playbook="quick") == 1
    assert grew("incidentbot_time_to_acknowledge_seconds_count", playbook="quick") == 1
    assert grew("incidentbot_slack_requests_total", method="conversations.create", outcome="ok") == 1
    assert grew("incidentbot_slack_requests_total", method="chat.update", outcome="ok") >= 1
    assert grew("incidentbot_button_ack_seconds_count") >= 1


async def test_start_up_errors_are_one_line_naming_the_setting(fake_slack, redis_url):
    fake_slack.fail("auth.test", "invalid_auth")
    cases = [(bot_env(REDIS_URL=redis_url, SLACK_API_URL=fake_slack.url), "SLACK_BOT_TOKEN"),
             (bot_env(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"), "REDIS_URL"),
             (bot_env(PLAYBOOKS_DIR="/nonexistent/playbooks"), "PLAYBOOKS_DIR")]
    for env, setting in cases:
        started = time.monotonic()
        proc = start_bot(env, free_port())
        _, err = await asyncio.to_thread(proc.communicate, timeout=15)
        assert proc.returncode == 1, err
        assert time.monotonic() - started < 10
        lines = err.strip().splitlines()
        assert len(lines) == 1 and setting in lines[0] and "Traceback" not in err, err
        assert TOKEN not in err
    # Socket Mode with an app-level token Slack refuses: one line, not a reconnect loop of tracebacks.
    fake_slack.fail("apps.connections.open", "invalid_auth")
    env = bot_env(REDIS_URL=redis_url, SLACK_API_URL=fake_slack.url, SLACK_APP_TOKEN="xapp-1-revoked",
                  PORT=str(free_port()))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, err = await asyncio.to_thread(proc.communicate, timeout=15)
    assert proc.returncode == 1 and err.strip().count("\n") == 0 and "SLACK_APP_TOKEN" in err, err


def test_check_needs_no_slack_settings_and_lists_every_problem(tmp_path):
    env = {"PATH": os.environ["PATH"], "PLAYBOOKS_DIR": str(ROOT / "playbooks")}
    result = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "TEMPLATES_DIR": str(ROOT / "templates")}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "tokens not set" in result.stdout
    (tmp_path / "one.md").write_text("---\nkey: one\ntitle: One\nseverity: P9\n---\n## Assess\n- [ ] a\n")
    (tmp_path / "two.md").write_text("---\nkey: two\ntitle: Two\n---\n## Assess\n- [ ] a\n")
    result = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "PLAYBOOKS_DIR": str(tmp_path), "TEMPLATES_DIR": str(ROOT / "templates")},
                            timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(f"{tmp_path / 'one.md'}:4: severity:" in line for line in lines), lines
    assert any(f"{tmp_path / 'two.md'}:" in line and "missing phase" in line for line in lines), lines
    assert "Input should" not in result.stderr and "pattern" not in result.stderr


async def test_first_response_by_completing_a_phase_counts_time_to_acknowledge_once(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)

    async def count() -> float:
        async with driver.session.get(bot.url + "/metrics") as resp:
            return metric(await resp.text(), "incidentbot_time_to_acknowledge_seconds_count", playbook="quick")

    before = await count()
    inc = await declare(driver, bot, fake_slack, "quick Completed first")
    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user="U_ALICE", url=bot.url)
    await eventually(lambda: phase_message(fake_slack, inc.channel, 1))
    assert await count() - before == 1
    await driver.click(phase_message(fake_slack, inc.channel, 1), "step:1:0", user="U_BOB", url=bot.url)
    await eventually(lambda: "✅" in str(phase_message(fake_slack, inc.channel, 1).blocks))
    assert await count() - before == 1, "only the first response counts"
