"""A catalogue of forged and malformed input: each gets a clear answer and changes nothing.

Forged payloads are signed (as someone holding the signing secret, or Slack relaying a tampered client,
could send them): the bot must check what it can itself. Malformed and unsigned bodies must be refused
before the bot does anything with them. Add a case here for every new route or field.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot import keys
from bot.errors import ConfigError
from bot.playbook_file import parse_playbook
from tests.conftest import TEST_PLAYBOOKS, eventually
from tests.driver import SIGNING_SECRET
from tests.fake_pagerduty import signature, webhook
from tests.flows import all_text, card, command_modal, declare, modal_values, open_declare_modal, phase_message
from tests.redis_server import RedisServer

ALICE = "U_ALICE"
ROOT = Path(__file__).resolve().parent.parent


def with_value(message: Any, action_id: str, value: dict[str, Any], channel: str | None = None) -> Any:
    """A copy of `message` whose element `action_id` carries a forged value (and, optionally, as if it were
    clicked in another channel)."""
    blocks = json.loads(json.dumps(message.blocks))
    for block in blocks:
        for el in [block.get("accessory") or {}, *block.get("elements", [])]:
            if el.get("action_id") == action_id:
                el["value"] = json.dumps(value)
    return type(message)(**{**message.__dict__, "blocks": blocks, "channel": channel or message.channel})


async def snapshot(bot, incident_id: str) -> tuple[Any, int]:
    incident = await bot.deps.store.get(incident_id)
    return incident, len(await bot.deps.store.timeline(incident_id))


@pytest.fixture
async def two(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    a = await declare(driver, bot, fake_slack, "quick Incident A")
    b = await declare(driver, bot, fake_slack, "quick Incident B")
    return bot, a, b


async def test_button_naming_another_incident_changes_nothing(two, driver, fake_slack):
    bot, a, b = two
    before_b = await snapshot(bot, b.incident_id)
    updates = len(fake_slack.calls_to("chat.update"))
    msg_a = phase_message(fake_slack, a.channel, 0)
    # Clicked in A's channel, but the value names B's step.
    forged = with_value(msg_a, "step:0:0", {"i": b.incident_id, "b": "quick", "p": 0, "s": 0, "a": "done"})
    await driver.click(forged, "step:0:0", user=ALICE, url=bot.url)
    # B's own message, replayed as if clicked in A's channel.
    moved = replace_channel(phase_message(fake_slack, b.channel, 0), a.channel)
    await driver.click(moved, "step:0:1", user=ALICE, url=bot.url)
    said = await eventually(lambda: len(_clicks(fake_slack)) >= 2 and _clicks(fake_slack))
    assert all("another incident" in text for text in said)
    assert await snapshot(bot, b.incident_id) == before_b
    assert (await bot.deps.store.get(a.incident_id)).steps == {}
    assert len(fake_slack.calls_to("chat.update")) == updates


async def modal_from_command(driver, bot, fake_slack, command: str,
                             channel: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The modal `/incident <command>` opens in `channel`, and its private_metadata."""
    view, _ = await command_modal(driver, bot, fake_slack, command, channel)
    return view, json.loads(view["private_metadata"])


def replace_channel(message: Any, channel: str) -> Any:
    return type(message)(**{**message.__dict__, "channel": channel})


def _clicks(fake_slack) -> list[str]:
    return [b.get("text", "") for k, b in fake_slack.response_posts if k.startswith("click-")]


@pytest.mark.parametrize("value", [
    {"p": 0, "s": 10, "a": "done"},  # past the phase's last step
    {"p": 0, "s": -1, "a": "done"},
    {"p": 9, "s": 0, "a": "done"},
    {"p": -1, "s": 0, "a": "done"},
    {"b": "other-playbook", "p": 0, "s": 0, "a": "done"},
])
async def test_step_outside_the_playbook_is_refused(two, driver, fake_slack, value):
    bot, a, _ = two
    before = await snapshot(bot, a.incident_id)
    forged = with_value(phase_message(fake_slack, a.channel, 0), "step:0:0", {"i": a.incident_id, **value})
    await driver.click(forged, "step:0:0", user=ALICE, url=bot.url)
    said = await eventually(lambda: _clicks(fake_slack))
    assert "another incident" in said[0]
    assert await snapshot(bot, a.incident_id) == before


async def test_status_and_resolve_buttons_outside_their_channel(two, driver, fake_slack):
    bot, a, _ = two
    opened = len(fake_slack.calls_to("views.open"))
    outside = replace_channel(card(fake_slack, a.channel), "C_GENERAL")
    await driver.click(outside, "status_update", user=ALICE, url=bot.url)
    said = await eventually(lambda: _clicks(fake_slack))
    assert "incident channel" in said[0]
    assert len(fake_slack.calls_to("views.open")) == opened


async def test_modal_submitted_for_another_incident_is_refused(two, driver, fake_slack):
    bot, a, b = two
    view, meta = await modal_from_command(driver, bot, fake_slack, "resolve", a.channel)
    forged = {**view, "private_metadata": json.dumps({**meta, "i": b.incident_id})}
    status, body = await driver.submit_view(forged, {"cause": "x", "resolution": "y"}, url=bot.url)
    assert status == 200 and "errors" in body and "no longer matches" in body
    # A view the bot never opened, naming A.
    status, body = await driver.submit_view({**view, "id": "V_NEVER_OPENED"}, {"cause": "x", "resolution": "y"},
                                             url=bot.url)
    assert "no longer matches" in body
    for inc in (a, b):
        assert (await bot.deps.store.get(inc.incident_id)).is_open


async def test_forged_acknowledgements_are_refused(two, driver, fake_slack):
    bot, a, b = two
    announcement = fake_slack.channel_by_name("incidents").messages[0]
    texts_before = all_text(announcement)
    base = card(fake_slack, a.channel)
    ack_block = {"type": "actions", "block_id": "esc:0", "elements": [
        {"type": "button", "action_id": "ack_escalation:0", "text": {"type": "plain_text", "text": "Ack"},
         "value": "{}"}]}
    cases = [({"i": a.incident_id, "level": 99}, a.channel),  # no such level
             ({"i": a.incident_id, "level": 0}, a.channel),  # not sent yet
             ({"i": b.incident_id, "level": 0}, a.channel)]  # another incident's
    for value, channel in cases:
        message = type(base)(**{**base.__dict__, "channel": channel,
                                "blocks": [{**ack_block, "elements": [{**ack_block["elements"][0],
                                                                        "value": json.dumps(value)}]}]})
        await driver.click(message, "ack_escalation:0", user=ALICE, url=bot.url)
    said = await eventually(lambda: len(_clicks(fake_slack)) == 3 and _clicks(fake_slack))
    assert "another incident" in said[0] or "not been sent" in said[0]
    assert all(("another incident" in s) or ("not been sent" in s) for s in said)
    for inc in (a, b):
        incident = await bot.deps.store.get(inc.incident_id)
        assert not incident.ack_by and not incident.acknowledged_at
    assert all_text(fake_slack.channel_by_name("incidents").messages[0]) == texts_before
    assert not [k async for k in bot.deps.store.redis.scan_iter(match=keys.idem("ack", "*"))]


async def test_resolve_button_naming_another_incident_is_refused(two, driver, fake_slack):
    bot, a, b = two
    base = card(fake_slack, a.channel)
    block = {"type": "actions", "block_id": "alerts_resolved", "elements": [
        {"type": "button", "action_id": "resolve", "text": {"type": "plain_text", "text": "Resolve"},
         "value": json.dumps({"i": b.incident_id})}]}
    opened = len(fake_slack.calls_to("views.open"))
    await driver.click(type(base)(**{**base.__dict__, "blocks": [block]}), "resolve", user=ALICE, url=bot.url)
    said = await eventually(lambda: _clicks(fake_slack))
    assert "another incident" in said[0]
    assert len(fake_slack.calls_to("views.open")) == opened


@pytest.mark.parametrize(("field", "values"), [
    ("severity", {"severity": "[<!channel>]"}),
    ("title", {"title": "x" * 100_000}),
    ("title", {"title": "\u200b\u200b\u200d"}),  # zero-width only
    ("description", {"description": "y" * 5000}),
])
async def test_declare_form_is_checked_on_the_server(make_bot, driver, fake_slack, field, values):
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick Forged")
    form = modal_values("Forged")
    if "severity" in values:
        form["severity"] = {"type": "static_select", "selected_option": {"value": values["severity"]}}
    else:
        form.update(values)
    status, body = await driver.submit_view(view, form, url=bot.url)
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and field in answer["errors"]
    assert len(body) < 500
    assert not fake_slack.calls_to("conversations.create")
    assert await bot.deps.store.redis.get(keys.incident_seq()) is None


async def test_control_characters_are_stripped_from_titles(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick x", title="Checkout\x00 slow\x1b[31m\u202e")
    assert (await bot.deps.store.get(inc.incident_id)).title == "Checkout slow[31m"


async def test_commands_bound_what_they_echo_and_check_user_ids(two, driver, fake_slack):
    bot, a, _ = two
    status, body, _ = await driver.command("z" * 100_000, channel=a.channel, url=bot.url)
    assert status == 200 and len(body) < 5000
    fake_slack.fail("users.info", "user_not_found")
    for text in ("commander <@U1><!channel>", "commander <@U1>x", "commander <@UNOSUCH99>"):
        await driver.command(text, channel=a.channel, url=bot.url)
    said = await eventually(lambda: len(fake_slack.response_posts) >= 3 and fake_slack.response_posts)
    assert all("<!channel>" not in b.get("text", "") for _, b in said)
    assert (await bot.deps.store.get(a.incident_id)).commander == "U_DECLARER"
    await driver.command("note " + "n" * 5000, channel=a.channel, url=bot.url)
    await eventually(lambda: any("under 3000" in b.get("text", "") for _, b in fake_slack.response_posts))


def signed_post(body: bytes, **headers: str) -> dict[str, str]:
    ts = str(int(time.time()))
    base = f"v0:{ts}:".encode() + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded", **headers}


@pytest.mark.parametrize(("body", "signed", "status"), [
    (b"payload=%7Bbroken", True, 400),  # payload= that is not JSON
    (b"payload=" + b"%5B" * 200_000, True, 400),  # 200k-deep nesting
    (b"command=%2Fincident&text=\xff\xfe", True, 400),  # not UTF-8
    (b"command=%2Fincident&text=help\nINFO forged log line", False, 401),
    (b"x" * 900_000, False, 401),
    (b"x" * 1_100_000, False, 413),
])
async def test_malformed_and_unsigned_bodies(make_bot, driver, fake_slack, caplog, body, signed, status):
    bot = await make_bot(run_scheduler=False)
    headers = signed_post(body) if signed else {"X-Slack-Request-Timestamp": "abc",
                                                         "X-Slack-Signature": "v0=00"}
    caplog.set_level(logging.DEBUG)
    async with driver.session.post(bot.url + "/slack/events", data=io.BytesIO(body), headers=headers) as resp:
        text = await resp.text()
        assert resp.status == status, text
    assert "Traceback" not in text and len(text) < 300
    assert not fake_slack.calls
    for record in caplog.records:
        message = record.getMessage()
        assert len(message) < 300 and "forged log line" not in message and "Traceback" not in (record.exc_text or "")


async def test_slow_body_is_dropped(make_bot):
    bot = await make_bot(run_scheduler=False, request_body_timeout=0.5)
    host, port = bot.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n\r\npartial")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    assert b" 408 " in status_line
    writer.close()
    await writer.wait_closed()


def test_deeply_nested_yaml_is_a_playbook_error(tmp_path):
    path = tmp_path / "deep.md"
    path.write_text("---\nkey: deep\ntitle: " + "[" * 5000 + "\n---\n## Assess\n- [ ] a\n")
    with pytest.raises(ConfigError) as info:
        parse_playbook(path)
    assert str(path) in info.value.user_message and "\n" not in info.value.user_message


async def test_wrong_redis_password_is_named_at_start_up(tmp_path):
    server = RedisServer(extra=["--requirepass", "right-password"])
    server.start()
    try:
        env = {"PATH": os.environ["PATH"], "SLACK_BOT_TOKEN": "xoxb-1",
               "SLACK_SIGNING_SECRET": "s", "PLAYBOOKS_DIR": str(TEST_PLAYBOOKS),
               "REDIS_URL": f"redis://:wrong-password@127.0.0.1:{server.port}/0",
               "SLACK_API_URL": "http://127.0.0.1:9/api/"}
        proc = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot", "serve", "--http"], cwd=ROOT,
                                       env=env, capture_output=True, text=True, timeout=30)
    finally:
        server.close()
    assert proc.returncode == 1
    assert "authentication failed" in proc.stderr and "REDIS_URL" in proc.stderr
    assert "wrong-password" not in proc.stderr


async def test_status_kind_and_reply_address_come_from_the_server(two, driver, fake_slack):
    bot, a, _ = two
    view, meta = await modal_from_command(driver, bot, fake_slack, "status", a.channel)
    assert "response_url" not in meta, "where to answer is kept on the server"
    forged = {**view, "private_metadata": json.dumps({**meta, "k": "resolved"})}
    await driver.submit_view(forged, {"text": "Checkout is slow; we are on it", "eta": ""}, url=bot.url)
    events = await eventually(lambda: _status_events(bot, a.incident_id))
    assert events[0].data["kind"] == "initial"
    assert (await bot.deps.store.get(a.incident_id)).is_open


async def _status_events(bot, incident_id: str) -> list[Any]:
    return [e for e in await bot.deps.store.timeline(incident_id) if e.type == "status_update"]


PD_SECRET = "pd-webhook-secret"
PD_ROSTER = {"perf-lead": {"slack": "U_LEAD", "pagerduty": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}}


@pytest.fixture
async def paged(make_bot, driver, fake_slack):
    """A bot hearing PagerDuty's webhooks, and an incident whose perf-lead page is queued (not sent)."""
    bot = await make_bot(run_scheduler=False, pagerduty_webhook_secret=PD_SECRET, roster=PD_ROSTER)
    inc = await declare(driver, bot, fake_slack, "quick Paged")
    await driver.command("page perf-lead", channel=inc.channel, url=bot.url)
    await eventually(lambda: any("through PagerDuty" in m.text for m in fake_slack.channels[inc.channel].messages))
    key = (await bot.deps.store.pages(inc.incident_id)).keys["perf-lead"]
    return bot, inc, key


async def post_webhook(driver, bot, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with driver.session.post(bot.url + "/pagerduty/webhook", data=io.BytesIO(body),
                                   headers={"Content-Type": "application/json", **headers}) as resp:
        return resp.status, await resp.text()


async def test_pagerduty_webhook_without_its_signature_changes_nothing(paged, driver, fake_slack):
    bot, inc, key = paged
    body = webhook("incident.acknowledged", key)
    before = await snapshot(bot, inc.incident_id)
    messages = len(fake_slack.channels[inc.channel].messages)
    good = signature(PD_SECRET, body)
    for headers in ({}, {"X-PagerDuty-Signature": ""}, {"X-PagerDuty-Signature": "v1=" + "0" * 64},
                    {"X-PagerDuty-Signature": signature("another-secret", body)},
                    {"X-PagerDuty-Signature": signature(PD_SECRET, body + b" ")},
                    {"X-PagerDuty-Signature": good.replace("v1=", "v0=")},
                    {"X-PagerDuty-Signature": good.upper()},
                    {"X-PagerDuty-Signature": "v1=\u00e9" + ", v1=0" * 10 + ", " + good}):  # past the 10 read
        status, text = await post_webhook(driver, bot, body, headers)
        assert status == 401 and "Traceback" not in text and len(text) < 300
    assert await snapshot(bot, inc.incident_id) == before
    assert len(fake_slack.channels[inc.channel].messages) == messages
    # While a secret rotates PagerDuty signs with both: one good signature among others is enough.
    status, _ = await post_webhook(driver, bot, body, {"X-PagerDuty-Signature": f"v1={'0' * 64}, {good}"})
    assert status == 200
    assert (await bot.deps.store.get(inc.incident_id)).acknowledged_at == 0  # nothing was sent, so no level


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400),
    (b'{"event": {}}', 400),
    (b'{"event": {"id": "", "event_type": "incident.acknowledged"}}', 400),
    (b'{"event": ' + b"[" * 200_000, 400),
    (b"x" * 1_100_000, 413),
])
async def test_malformed_pagerduty_webhooks(paged, driver, caplog, body, status):
    bot, inc, _ = paged
    before = await snapshot(bot, inc.incident_id)
    caplog.set_level(logging.DEBUG)
    code, text = await post_webhook(driver, bot, body, {"X-PagerDuty-Signature": signature(PD_SECRET, body)})
    assert code == status and "Traceback" not in text and len(text) < 300
    assert await snapshot(bot, inc.incident_id) == before
    assert all(len(r.getMessage()) < 300 for r in caplog.records)


async def test_pagerduty_webhook_route_is_off_without_a_secret(make_bot, driver):
    bot = await make_bot(run_scheduler=False)
    body = webhook("incident.acknowledged", "k")
    status, _ = await post_webhook(driver, bot, body, {"X-PagerDuty-Signature": signature("", body)})
    assert status == 404
