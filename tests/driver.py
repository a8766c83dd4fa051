"""Drives the bot the way Slack does: signed HTTP requests to /slack/events."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp

from slackfake.delivery import signature

SIGNING_SECRET = "test-signing-secret"


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    return signature(secret, timestamp, body)


class SlackDriver:
    def __init__(self, base_url: str, fake: Any) -> None:
        self.base_url = base_url
        self.fake = fake
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def post(self, body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   url: str | None = None) -> tuple[int, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sign(body, ts, secret)}
        async with self.session.post((url or self.base_url) + "/slack/events", data=body.encode(),
                                     headers=headers) as resp:
            return resp.status, await resp.text()

    async def command(self, text: str, *, user: str = "U_DECLARER", channel: str = "C_GENERAL",
                      url: str | None = None, markup: bool = False) -> tuple[int, str, str]:
        """`/incident text` as typed: sent as Slack sends it, with &, < and > escaped (`markup`: `text` is already
        in Slack's form, e.g. a mention `<@U…|name>`). Returns (status, body, response_url key)."""
        key = uuid.uuid4().hex
        if not markup:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        form = {"command": "/incident", "text": text, "user_id": user, "user_name": user.lower(),
                "channel_id": channel, "channel_name": "general", "team_id": "T_TEST",
                "trigger_id": f"trig-{uuid.uuid4().hex}", "response_url": self.fake.response_url(key),
                "api_app_id": "A_TEST", "token": "legacy"}
        status, body = await self.post(urlencode(form), url=url)
        return status, body, key

    async def interactive(self, payload: dict[str, Any], *, url: str | None = None) -> tuple[int, str]:
        payload.setdefault("team", {"id": "T_TEST"})
        payload.setdefault("api_app_id", "A_TEST")
        payload.setdefault("token", "legacy")
        return await self.post(urlencode({"payload": json.dumps(payload)}), url=url)

    async def submit_view(self, view: dict[str, Any], values: dict[str, Any], *, user: str = "U_DECLARER",
                          url: str | None = None) -> tuple[int, str]:
        state = {}
        for block_id, value in values.items():
            if isinstance(value, dict):
                state[block_id] = {"value": value}
            else:
                state[block_id] = {"value": {"type": "plain_text_input", "value": value}}
        submitted = {**view, "id": view.get("id", "V" + uuid.uuid4().hex[:8]), "state": {"values": state}}
        return await self.interactive({"type": "view_submission", "user": {"id": user}, "view": submitted},
                                      url=url)

    async def click(self, message: Any, action_id: str, *, user: str, url: str | None = None,
                    key: str = "") -> tuple[int, str]:
        """Click the element `action_id` in a message the fake holds (as a person sees it now). What the bot
        tells the person lands in the fake's `response_posts` under `key` (a fresh one unless given)."""
        element = find_element(message.blocks, action_id)
        action = {"type": element["type"], "action_id": action_id, "block_id": element.get("_block_id", ""),
                  "action_ts": f"{time.time():.6f}"}
        if "value" in element:
            action["value"] = element["value"]
        payload = {"type": "block_actions", "user": {"id": user}, "trigger_id": f"trig-{uuid.uuid4().hex}",
                   "channel": {"id": message.channel}, "container": {"type": "message", "message_ts": message.ts},
                   "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
                   "response_url": self.fake.response_url(key or f"click-{uuid.uuid4().hex}"),
                   "actions": [action]}
        return await self.interactive(payload, url=url)

    async def select(self, message: Any, action_id: str, option_index: int, *, user: str,
                     url: str | None = None) -> tuple[int, str]:
        element = find_element(message.blocks, action_id)
        option = element["options"][option_index]
        payload = {"type": "block_actions", "user": {"id": user}, "trigger_id": f"trig-{uuid.uuid4().hex}",
                   "channel": {"id": message.channel}, "container": {"type": "message", "message_ts": message.ts},
                   "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
                   "response_url": self.fake.response_url(f"select-{uuid.uuid4().hex}"),
                   "actions": [{"type": "static_select", "action_id": action_id, "selected_option": option,
                                "action_ts": f"{time.time():.6f}"}]}
        return await self.interactive(payload, url=url)


def find_element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        candidates = [block.get("accessory")] + list(block.get("elements", []))
        for el in candidates:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return {**el, "_block_id": block.get("block_id", "")}
    have = [e.get("action_id") for b in blocks for e in [b.get("accessory") or {}, *b.get("elements", [])]
            if isinstance(e, dict)]
    raise AssertionError(f"no element {action_id!r} in message; have {have}")
