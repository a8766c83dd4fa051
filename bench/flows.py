"""Slack requests the benchmarks send: slash commands, the declare modal, Done clicks."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slackfake import FakeSlack
from tests.driver import SlackDriver


def command_body(fake: FakeSlack, text: str, *, user: str = "U_DECLARER", channel: str = "C_GENERAL") -> str:
    form = {"command": "/incident", "text": text, "user_id": user, "user_name": user.lower(),
            "channel_id": channel, "channel_name": "general", "team_id": "T_TEST",
            "trigger_id": f"trig-{uuid.uuid4().hex}", "response_url": fake.response_url(uuid.uuid4().hex),
            "api_app_id": "A_TEST", "token": "legacy"}
    return urlencode(form)


def modal_values(title: str, severity: str = "P2") -> dict[str, Any]:
    return {"title": title, "severity": {"type": "static_select", "selected_option": {"value": severity}},
            "service": "checkout-api", "description": "p99 latency above 3 s since 14:05"}


def _created(fake: FakeSlack) -> list[str]:
    return [c.response["channel"]["id"] for c in fake.calls_to("conversations.create") if c.ok]


def phase_message(fake: FakeSlack, channel: str, phase: int = 0) -> Any:
    for m in fake.channels[channel].messages:
        if m.blocks and m.blocks[0].get("type") == "header" and \
                m.blocks[0]["text"]["text"].startswith(f"Phase {phase + 1} of"):
            return m
    return None


@dataclass
class Declared:
    channel: str
    message: Any  # the first phase message as posted


async def declare(driver: SlackDriver, url: str, fake: FakeSlack, playbook: str, title: str,
                  timeout: float = 10.0) -> Declared:  # noqa: ASYNC109 - bounded wait
    """`/incident <playbook>`, then submit the modal as soon as it is open; returns once the checklist is up."""
    before_open = len(fake.calls_to("views.open"))
    before_created = len(_created(fake))
    status, body, _ = await driver.command(f"{playbook} {title}", url=url)
    if status != 200:
        raise RuntimeError(f"/incident {playbook} answered {status}: {body}")
    calls = await fake.wait_for("views.open", before_open + 1, timeout=timeout)
    view = calls[-1].response["view"]
    status, body = await driver.submit_view(view, modal_values(title), url=url)
    if status != 200:
        raise RuntimeError(f"declare submit answered {status}: {body}")
    await fake.wait_for("conversations.create", before_created + 1, timeout=timeout, where=lambda c: c.ok)
    channel = _created(fake)[-1]
    await fake.wait_for("chat.postMessage", 1, timeout=timeout,
                        where=lambda c: c.ok and c.response["channel"] == channel and phase_message(fake, channel))
    await fake.wait_for("pins.add", 1, timeout=timeout, where=lambda c: c.args.get("channel") == channel)
    return Declared(channel, phase_message(fake, channel))


def click_body(fake: FakeSlack, message: Any, incident_id: str, playbook: str, phase: int, step: int,
               action: str, user: str) -> str:
    """A Done (or Undo) click on one step, shaped as Slack sends it, with the whole message in the payload."""
    value = json.dumps({"i": incident_id, "b": playbook, "p": phase, "s": step, "a": action},
                      separators=(",", ":"))
    act = {"type": "button", "action_id": f"step:{phase}:{step}", "block_id": f"step:{phase}:{step}",
           "value": value, "action_ts": f"{time.time():.6f}"}
    payload = {"type": "block_actions", "user": {"id": user}, "trigger_id": f"trig-{uuid.uuid4().hex}",
               "channel": {"id": message.channel}, "container": {"type": "message", "message_ts": message.ts},
               "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
               "response_url": fake.response_url(f"click-{uuid.uuid4().hex}"), "actions": [act],
               "team": {"id": "T_TEST"}, "api_app_id": "A_TEST", "token": "legacy"}
    return urlencode({"payload": json.dumps(payload)})
