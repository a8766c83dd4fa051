"""Settings, the `check` command, the manifest and the small pure helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import logs
from bot.channels import channel_name
from bot.durations import format_duration, in_words, parse_duration
from bot.errors import ConfigError
from bot.mrkdwn import escape, mention
from bot.settings import load_settings
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent
BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PATH": os.environ["PATH"]}


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd,
                          env={**BASE_ENV, **(env or {})}, timeout=60)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"roster": "x"}, "setting ROSTER"),
    ({"slack_bot_token": "xoxp-user"}, "setting SLACK_BOT_TOKEN: expected a bot token"),
    ({"slack_api_url": "ftp://x"}, "setting SLACK_API_URL"),
    ({"roster": {"perf-lead": "bob"}}, "setting ROSTER"),
    ({"slack_app_token": "xoxb-wrong"}, "setting SLACK_APP_TOKEN"),
    ({"pagerduty_events_url": "events.pagerduty.com"}, "setting PAGERDUTY_EVENTS_URL: expected an http(s) URL"),
    ({"pagerduty_max_attempts": 50}, "setting PAGERDUTY_MAX_ATTEMPTS: should be at most 10"),
])
def test_bad_setting_stops_with_one_line_naming_it(overrides, expected):
    values = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", **overrides}
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, **values)
    assert expected in info.value.user_message
    assert "\n" not in info.value.user_message


def test_check_summarises_shipped_playbooks():
    result = run_cli("check", env={"ROSTER": '{"perf-lead": "U0123ABCD"}'})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "playbook perf" in out and "Assess (0–60 min): " in out
    assert "15m → perf-lead, 30m → incident-manager (raise to P1), 45m → vp-engineering" in out
    perf = out.split("playbook perf ")[1].split("playbook ")[0]
    assert "targets: acknowledge within 1 hour, resolve within 8 hours; reminders to incident-manager, " \
           "engineering-manager" in perf
    assert "RCA review: due 48 hours (review_within) after resolve" in perf
    logging = out.split("playbook logging-latency ")[1].split("playbook ")[0]
    assert "acknowledge within 5 minutes, resolve within 30 minutes" in logging and "1 week (review_within)" in logging
    api = out.split("playbook api-latency ")[1].split("playbook ")[0]
    assert "targets: none" in api and "RCA review: due 24 hours (RCA_DUE_AFTER) after resolve" in api
    assert "engineering-manager: used by perf" in out
    assert "roles with no ROSTER entry" in out and "vp-engineering: used by" in out
    assert "perf-lead:" not in out.split("roles with no ROSTER entry")[1]
    assert "xoxb-1" not in out + result.stderr


ROUTING_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.mark.parametrize(("entry", "expected"), [
    ({"slack": "U0LEAD", "pagerduty": ROUTING_KEY[:-1]}, "pagerduty should be the 32-character routing key"),
    ({"slack": "U0LEAD", "pagerduty": ROUTING_KEY, "phone": ROUTING_KEY}, "unknown key 'phone'"),
    ({"pagerduty": ROUTING_KEY}, "slack should be a Slack user id"),
    ({"slack": "bob", "pagerduty": ROUTING_KEY}, "slack 'bob' should be a Slack user id"),
    (["U0LEAD"], "expected a Slack id or an object"),
])
def test_malformed_roster_entry_names_the_role_never_the_key(entry, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, roster={"incident-manager": "U0DAVE001", "perf-lead": entry})
    message = info.value.user_message
    assert message.startswith("setting ROSTER: role 'perf-lead'") and expected in message
    assert ROUTING_KEY[:-1] not in message and "\n" not in message


def test_roster_takes_slack_ids_and_objects_with_a_routing_key():
    settings = load_settings(env_file=None, roster={"perf-lead": {"slack": "S0PERFLEAD", "pagerduty": ROUTING_KEY},
                                                    "incident-manager": "U0DAVE001"})
    assert settings.roster["perf-lead"].slack == "S0PERFLEAD"
    assert settings.roster["incident-manager"].pagerduty is None
    assert settings.pagerduty_roles == ["perf-lead"]
    assert ROUTING_KEY not in repr(settings) + str(settings)


def test_check_names_the_paged_roles_and_a_malformed_entry_without_the_key():
    roster = '{"perf-lead": {"slack": "S0PERFLEAD", "pagerduty": "%s"}, "incident-manager": "U0DAVE001"}'
    result = run_cli("check", env={"ROSTER": roster % ROUTING_KEY})
    assert result.returncode == 0, result.stderr
    assert "pagerduty: pages perf-lead through https://events.pagerduty.com/v2/enqueue" in result.stdout
    assert "pagerduty webhook: off" in result.stdout
    assert "perf-lead:" not in result.stdout.split("roles with no ROSTER entry")[1]
    assert ROUTING_KEY not in result.stdout + result.stderr
    result = run_cli("check", env={"ROSTER": roster % ("x" + ROUTING_KEY)})
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: setting ROSTER: role 'perf-lead': pagerduty should be the 32-character "
                                     "routing key of an Events API v2 integration")


def test_check_fails_on_broken_playbook_and_bad_setting(tmp_path):
    (tmp_path / "bad.md").write_text("---\nkey: bad\ntitle: Bad\n---\n## Assess\n- [ ] a\n")
    result = run_cli("check", env={"PLAYBOOKS_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"{tmp_path / 'bad.md'}:" in result.stderr and "missing phase" in result.stderr
    result = run_cli("check", env={"ROSTER": "not json"})
    assert result.returncode != 0 and "ROSTER" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run_cli("serve", env={})
    assert result.returncode != 0 and "SLACK_APP_TOKEN" in result.stderr


def test_serve_http_runs_with_embedded_redis(tmp_path):
    """`serve --http` with no REDIS_URL starts a real embedded Redis and answers /healthz."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**BASE_ENV, "STATE_DIR": str(tmp_path / "state"), "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
           "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    status = resp.status
            except OSError:
                time.sleep(0.2)
        assert status == 200
        assert (tmp_path / "state").is_dir()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "embedded Redis" in out
    assert "xoxb-1" not in out


async def test_every_manifest_command_and_shortcut_has_a_handler(make_bot, driver, fake_slack):
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    bot = await make_bot()
    for command in manifest["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events")
        from urllib.parse import urlencode

        body = urlencode({"command": command["command"], "text": "help", "user_id": "U_ALICE",
                          "channel_id": "C_GENERAL", "trigger_id": "trig-1", "team_id": "T_TEST",
                          "response_url": fake_slack.response_url("m")})
        status, text = await driver.post(body, url=bot.url)
        assert status == 200, (command["command"], text)
    for shortcut in manifest["features"]["shortcuts"]:
        payload = {"type": "message_action" if shortcut["type"] == "message" else "shortcut",
                   "callback_id": shortcut["callback_id"], "user": {"id": "U_ALICE"},
                   "channel": {"id": "C_GENERAL"}, "trigger_id": "trig-2",
                   "message": {"ts": "1.000001", "text": "x", "user": "U_BOB"},
                   "response_url": fake_slack.response_url("shortcut-" + shortcut["callback_id"])}
        status, text = await driver.interactive(payload, url=bot.url)
        assert status == 200, (shortcut["callback_id"], text)
    # The shortcut outside an incident channel answers, rather than failing silently.
    reply = await eventually(lambda: [b for k, b in fake_slack.response_posts if k.startswith("shortcut-")])
    assert "incident channel" in reply[0]["text"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "channels:manage", "pins:write", "channels:history"} <= scopes


def test_escape_and_mentions():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert mention("U123") == "<@U123>" and mention("S123") == "<!subteam^S123>"


def test_durations():
    assert [parse_duration(x) for x in ("90s", "15m", "1h", "1h30m")] == [90, 900, 3600, 5400]
    for bad in ("15", "soon", "0s", "-5m"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert format_duration(2700) == "45m" and format_duration(3900) == "1h 05m"
    assert [in_words(x) for x in (1, 90, 1800, 3600, 172800, 604800, 0)] == [
        "1 second", "90 seconds", "30 minutes", "1 hour", "48 hours", "1 week", "0 seconds"]


def test_channel_names_are_valid_and_bounded():
    ms = 1_763_856_000_000  # 2025-11-23 UTC
    assert channel_name("perf", "Checkout: p99 > 2s!", ms) == "inc-20251123-perf-checkout-p99-2s"
    long = channel_name("perf", "x" * 200, ms, attempt=3)
    assert len(long) <= 80 and long.endswith("-4")
    assert channel_name("perf", "Ünïcode 🔥", ms).startswith("inc-20251123-perf-n-code")
    assert channel_name("perf", "!!!", ms) == "inc-20251123-perf-incident"


def test_logs_hide_secrets_by_value():
    logs.hide([ROUTING_KEY, "short"])  # values too short to hide safely are left alone
    line = logs.redact(f"sent with {ROUTING_KEY}; a short word stays")
    assert ROUTING_KEY not in line and "[redacted]" in line and "short word" in line
