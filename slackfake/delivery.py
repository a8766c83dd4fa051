"""The other half of Slack: what it sends to an app's request URL when a person acts. Slash commands, clicks
(block_actions), modal submissions and closes, and message shortcuts, as Slack builds them, signed with the
app's signing secret, with this fake's trigger ids (which expire, and name who a modal is for) and response
URLs (which answer in the channel the person acted in)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from slackfake.server import FakeSlack
from slackfake.workspace import APP_ID, TEAM_ID, Message

# What Slack sends as the legacy verification token; apps check the signature instead.
VERIFICATION_TOKEN = "legacy"
TEAM_DOMAIN = "test"


def signature(secret: str, timestamp: int, body: str) -> str:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Answer:
    """The app's HTTP answer: its status and, when it sent JSON, the object (`{}` for an empty 200)."""

    status: int
    body: dict[str, Any]


class AppRequests:
    """Requests to one app at `url` (its request URL, e.g. http://127.0.0.1:3000/slack/events)."""

    def __init__(self, fake: FakeSlack, url: str, secret: str, session: aiohttp.ClientSession, *,
                 timeout: float | None = None) -> None:
        self.fake = fake
        self.url = url
        self.secret = secret
        self.session = session
        # Slack gives up on an answer after 3 s; None waits (tests that look at slow answers themselves).
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _user(self, user: str) -> dict[str, Any]:
        name = str((self.fake.users.get(user) or {}).get("name") or user.lower())
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def _channel(self, channel: str) -> dict[str, Any]:
        ch = self.fake.channels.get(channel)
        return {"id": channel, "name": ch.name if ch else ""}

    def _common(self, kind: str, user: str) -> dict[str, Any]:
        return {"type": kind, "user": self._user(user), "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None,
                "is_enterprise_install": False}

    async def post(self, body: str) -> Answer:
        timestamp = int(time.time())  # Slack's own clock, whatever the app's says
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Request-Timestamp": str(timestamp),
                   "X-Slack-Signature": signature(self.secret, timestamp, body)}
        async with self.session.post(self.url, data=body.encode(), headers=headers, timeout=self.timeout) as resp:
            raw = await resp.text()
            status = resp.status
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError:
            parsed = {"text": raw}  # an app may answer a slash command in plain text
        return Answer(status, parsed if isinstance(parsed, dict) else {})

    async def interactive(self, payload: dict[str, Any]) -> Answer:
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def command(self, user: str, channel: str, command: str, text: str) -> Answer:
        """A slash command typed in `channel`; its answer, if it has text, is shown to the person as Slack
        does (only to them unless the app asked for in_channel)."""
        to = (channel, user)
        form = {"token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN,
                "channel_id": channel, "channel_name": self._channel(channel)["name"], "user_id": user,
                "user_name": self._user(user)["name"], "command": command, "text": text, "api_app_id": APP_ID,
                "is_enterprise_install": "false", "response_url": self.fake.response_url(to=to),
                "trigger_id": self.fake.new_trigger_id(user)}
        answer = await self.post(urlencode(form))
        if answer.status == 200 and (answer.body.get("text") or answer.body.get("blocks")):
            self.fake.reply(to, answer.body)
        return answer

    def _from_message(self, kind: str, user: str, message: Message) -> dict[str, Any]:
        """What block_actions and message shortcuts carry about the message the person acted on."""
        payload = self._common(kind, user)
        to = (message.channel, user)
        where = None if message.visible_to else (message.channel, message.ts)
        payload.update(trigger_id=self.fake.new_trigger_id(user), channel=self._channel(message.channel),
                       response_url=self.fake.response_url(message=where, to=to))
        if not message.visible_to:  # Slack sends no message for a click in an ephemeral one
            payload["message"] = message.to_api(include_metadata=False)
        return payload

    async def block_action(self, user: str, message: Message, action: dict[str, Any]) -> Answer:
        """A click on an interactive element (`action`: as in the payload's `actions`) of a message."""
        payload = self._from_message("block_actions", user, message)
        payload.update(container={"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                                  "is_ephemeral": bool(message.visible_to)},
                       state={"values": {}}, actions=[{**action, "action_ts": f"{time.time():.6f}"}])
        return await self.interactive(payload)

    async def message_shortcut(self, user: str, message: Message, callback_id: str) -> Answer:
        payload = self._from_message("message_action", user, message)
        payload.update(callback_id=callback_id, message_ts=message.ts, action_ts=f"{time.time():.6f}")
        return await self.interactive(payload)

    async def view_submission(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Answer:
        """A modal submitted with `values` (its state.values: block_id → action_id → element state)."""
        payload = self._common("view_submission", user)
        payload.update(trigger_id=self.fake.new_trigger_id(user), response_urls=[],
                       view={**view, "state": {"values": values}})
        return await self.interactive(payload)

    async def view_closed(self, user: str, view: dict[str, Any]) -> Answer:
        payload = self._common("view_closed", user)
        payload.update(view=view, is_cleared=False)
        return await self.interactive(payload)
