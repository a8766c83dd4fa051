"""The sandbox workspace: slackfake's Web API (the same one the tests use) plus what a Slack client does for
the people in it: their messages and slash commands, clicks, modals (one stack per person), message
shortcuts, unread counts, and what went wrong talking to the app.

The app is reached only as Slack reaches it (slackfake.delivery: signed requests to its /slack/events) and
answers only as it answers Slack (Web API calls, response URLs, its HTTP answers); nothing here calls the
bot's code.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.mrkdwn import escape
from bot.sandbox.blockkit_html import options_of
from bot.sandbox.people import Manifest, People
from slackfake import FakeSlack, SlackError
from slackfake.delivery import Answer, AppRequests
from slackfake.workspace import GENERAL_ID, SEED_USERS, Channel, Message

# Slack shows an error when an app has not answered a request in this long.
ANSWER_WAIT_S = 3.0
_MENTION = re.compile(r"(?<![\w@<|])([@#])([a-z0-9][a-z0-9._-]*)")
TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}


class Refused(Exception):
    """What a person tried cannot be done (a channel they may not see, a message gone); said to them."""


class Emulator(FakeSlack):
    shutdown_timeout = 1.0  # a page's open long poll must not hold up stopping

    def __init__(self, people: People, manifest: Manifest, clock: Callable[[], float],
                 channels: list[str]) -> None:
        super().__init__()
        self.clock = clock
        self.people = people
        self.manifest = manifest
        self.version = 0  # goes up with every change anyone could see
        self.modals: dict[str, list[str]] = {}  # user -> stack of open view ids, the top one shown
        self.view_errors: dict[str, dict[str, str]] = {}  # view id -> block_id -> the app's error
        self.view_values: dict[str, dict[str, Any]] = {}  # view id -> block_id -> what was last submitted
        self.read: dict[tuple[str, str], int] = {}  # (user, channel) -> how many of its messages they have seen
        self.notices: dict[str, str] = {}  # user -> the last thing that went wrong for them
        self.app: AppRequests | None = None
        self.pages: Callable[[web.Application], None] | None = None  # the page's routes (ui.py)
        self.stopping = False
        for uid in SEED_USERS:  # the tests' people; the sandbox has its own
            self.users.pop(uid, None)
            self.channels[GENERAL_ID].members.discard(uid)
        for person in people.users:
            record = self.add_user(person.id, person.handle, real_name=person.real_name)
            record["profile"]["display_name"] = person.real_name  # what the RCA names people by
        for gid, (_, members) in people.groups.items():
            self.usergroups[gid] = list(members)
        for ref in channels:
            if self.channels.get(ref) is None and self.channel_by_name(ref) is None:
                is_id = re.fullmatch(r"[CG][A-Z0-9]{2,}", ref) is not None
                self.add_channel(ref.lower() if is_id else ref.removeprefix("#"), id=ref if is_id else None,
                                 members=[p.id for p in people.users])

    def connect(self, url: str, secret: str, session: aiohttp.ClientSession) -> None:
        """Where the app takes Slack's requests."""
        self.app = AppRequests(self, url, secret, session, timeout=ANSWER_WAIT_S)

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        if self.pages is not None:
            self.pages(app)

    # ---- changes and waiting for them -------------------------------------------------------------------------

    def _notify(self) -> None:
        self.version += 1
        super()._notify()

    async def wait(self, since: int, timeout: float) -> None:  # noqa: ASYNC109 - a long poll's own deadline
        """Until something changed after version `since`, the timeout passed, or the sandbox stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version <= since and not self.stopping:
            changed = self._changed
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return

    async def stop(self) -> None:
        self.stopping = True
        self._notify()  # open long polls return now
        await super().stop()

    # ---- what a person sees ------------------------------------------------------------------------------------

    def visible_channels(self, user: str) -> list[Channel]:
        """Public channels, private ones they are in, and their direct messages with the app."""
        return [c for c in self.channels.values()
                if (c.is_im and user in c.members) or (not c.is_im and (not c.is_private or user in c.members))]

    def channel_for(self, user: str, channel: str) -> Channel:
        ch = self.channels.get(channel)
        if ch is None or ch not in self.visible_channels(user):
            raise Refused("That channel does not exist or is private.")
        return ch

    def messages(self, user: str, channel: str) -> list[Message]:
        """The channel's messages and the user's own ephemeral ones in it, oldest first."""
        mine = [m for m in self.ephemerals if m.channel == channel and m.visible_to == user]
        shared = self.channels[channel].messages if channel in self.channels else []
        return sorted([*shared, *mine], key=lambda m: tuple(int(x) for x in m.ts.split(".")))

    def unread(self, user: str, channel: str) -> int:
        return max(0, len(self.messages(user, channel)) - self.read.get((user, channel), 0))

    def mark_read(self, user: str, channel: str) -> None:
        self.read[(user, channel)] = len(self.messages(user, channel))

    def modal(self, user: str) -> dict[str, Any] | None:
        stack = self.modals.get(user) or []
        return self.views.get(stack[-1]) if stack else None

    def api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        opened = super().api_views_open(args)
        view_id = opened["view"]["id"]
        user = self.view_users.get(view_id)
        if user:  # a new modal replaces whatever the person had open, as in Slack
            self.modals[user] = [view_id]
        return opened

    # ---- what a person does ------------------------------------------------------------------------------------

    async def _deliver(self, user: str, request: Callable[[AppRequests], Awaitable[Answer]]) -> Answer | None:
        """One request to the app; what went wrong is kept to show the person (None then)."""
        if self.app is None:
            self.tell(user, "The app is not connected yet; try again in a moment.")
            return None
        try:
            answer = await request(self.app)
        except TimeoutError:
            self.tell(user, f"incident-bot did not answer within {ANSWER_WAIT_S:.0f} seconds, so Slack would show "
                             "an error here. Try again.")
            return None
        except aiohttp.ClientError as e:
            self.tell(user, f"incident-bot could not be reached ({type(e).__name__}). Is it still running?")
            return None
        if answer.status != 200:
            self.tell(user, f"incident-bot answered HTTP {answer.status}, so Slack would show an error here.")
            return None
        self._notify()
        return answer

    def tell(self, user: str, text: str) -> None:
        """What went wrong, shown to `user` on the page until they next act."""
        self.notices[user] = text
        self._notify()

    def command_text(self, text: str, should_escape: bool) -> str:
        """A slash command's text as Slack sends it: &, < and > escaped; with should_escape, @name and
        #channel turned into mentions the app can read."""
        text = escape(text)
        if not should_escape:
            return text

        def mention(m: re.Match[str]) -> str:
            sign, name = m.group(1), m.group(2)
            if sign == "#":
                ch = self.channel_by_name(name)
                return f"<#{ch.id}|{name}>" if ch else m.group(0)
            uid = next((u for u, rec in self.users.items() if rec.get("name") == name), None)
            if uid:
                return f"<@{uid}|{name}>"
            gid = next((g for g, (p, _) in self.people.groups.items() if p.handle == name), None)
            return f"<!subteam^{gid}|@{name}>" if gid else m.group(0)

        return _MENTION.sub(mention, text)

    async def send(self, user: str, channel: str, text: str) -> None:
        """The message box: a slash command if it starts with one, else a message in the channel."""
        ch = self.channel_for(user, channel)
        text = text.strip()
        if not text:
            return
        if not text.startswith("/"):
            ch.members.add(user)
            self.post_as(user, ch.id, escape(text))
            self._notify()
            return
        command, _, rest = text.partition(" ")
        if command not in self.manifest.commands:
            self.post_ephemeral(ch.id, user, f"`{escape(command)}` is not a command here. The app's command is "
                                f"{', '.join(f'`{c}`' for c in self.manifest.commands)}.")
            self._notify()
            return
        body = self.command_text(rest.strip(), self.manifest.commands[command])
        await self._deliver(user, lambda app: app.command(user, ch.id, command, body))

    def _message(self, user: str, channel: str, ts: str) -> Message:
        found = next((m for m in self.messages(user, channel) if m.ts == ts), None)
        if found is None:
            raise Refused("That message is gone.")
        return found

    def _element(self, message: Message, block: int, element: int, action_id: str) -> tuple[dict[str, Any], str]:
        """The element clicked, found as Slack finds it: by action_id in the message as it is now (the page may
        be a moment old), and the block_id it is in."""
        for i, b in enumerate(message.blocks):
            for n, el in [(-1, b.get("accessory")), *enumerate(b.get("elements") or [])]:
                if isinstance(el, dict) and el.get("action_id") == action_id and (i, n) == (block, element):
                    return el, str(b.get("block_id") or f"b{i}")
        for i, b in enumerate(message.blocks):
            for el in [b.get("accessory"), *(b.get("elements") or [])]:
                if isinstance(el, dict) and el.get("action_id") == action_id:
                    return el, str(b.get("block_id") or f"b{i}")
        raise Refused("That button is no longer there.")

    async def click(self, user: str, channel: str, ts: str, block: int, element: int, action_id: str,
                    option: int | None = None) -> None:
        """A button clicked, or an option chosen in a select, in a message."""
        message = self._message(user, channel, ts)
        el, block_id = self._element(message, block, element, action_id)
        action: dict[str, Any] = {"type": el.get("type"), "action_id": action_id, "block_id": block_id}
        if el.get("type") == "button":
            action.update({k: el[k] for k in ("text", "value", "style", "url") if k in el})
        else:
            options = options_of(el)
            if option is None or not 0 <= option < len(options):
                raise Refused("Choose one of the options.")
            action["selected_option"] = options[option]
            if "placeholder" in el:
                action["placeholder"] = el["placeholder"]
        await self._deliver(user, lambda app: app.block_action(user, message, action))

    async def shortcut(self, user: str, channel: str, ts: str, callback_id: str) -> None:
        if callback_id not in self.manifest.message_shortcuts:
            raise Refused("The app has no such shortcut.")
        message = self._message(user, channel, ts)
        await self._deliver(user, lambda app: app.message_shortcut(user, message, callback_id))

    def _own_view(self, user: str, view_id: str) -> dict[str, Any]:
        view = self.modal(user)
        if view is None or view["id"] != view_id:
            raise Refused("That form is no longer open.")
        return view

    async def submit(self, user: str, view_id: str, fields: dict[str, Any]) -> None:
        """The top modal submitted with `fields` (input block index -> text, option index, or indexes); the
        app's answer closes it, shows its errors, or replaces or pushes a view."""
        view = self._own_view(user, view_id)
        values, shown = state_values(view, fields)
        answer = await self._deliver(user, lambda app: app.view_submission(user, view, values))
        if answer is None:
            return
        action = answer.body.get("response_action")
        stack = self.modals.setdefault(user, [])
        if action == "errors" and isinstance(answer.body.get("errors"), dict):
            self.view_errors[view_id] = {str(k): str(v) for k, v in answer.body["errors"].items()}
            self.view_values[view_id] = shown
        elif action in ("update", "push"):
            try:
                checked = self._checked_view(answer.body.get("view"))
            except SlackError as e:
                self.tell(user, f"Slack refused the app's new view ({e.error}).")
                return
            if action == "update":
                self._store_view(checked, view_id=view_id)
                self.view_errors.pop(view_id, None)
            else:
                stack.append(self._store_view(checked, previous=view_id)["view"]["id"])
        elif action == "clear":
            stack.clear()
        elif stack and stack[-1] == view_id:
            stack.pop()
        self._notify()

    async def close(self, user: str, view_id: str) -> None:
        view = self._own_view(user, view_id)
        self.modals[user].pop()
        self._notify()
        if view.get("notify_on_close"):
            await self._deliver(user, lambda app: app.view_closed(user, view))


def state_values(view: dict[str, Any], fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What Slack sends as view.state.values for the page's `fields`, and what to show again should the app
    answer with errors (by block_id)."""
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for i, block in enumerate(view.get("blocks") or []):
        el = block.get("element") if block.get("type") == "input" else None
        if not isinstance(el, dict):
            continue
        kind, raw = str(el.get("type")), fields.get(str(i))
        block_id = str(block.get("block_id") or i)
        options = options_of(el)
        state: dict[str, Any] = {"type": kind}
        if kind in TEXT_INPUTS:
            state["value"] = str(raw) if raw else None
        elif kind in ("static_select", "radio_buttons"):
            index = int(raw) if isinstance(raw, str) and raw.isdigit() else -1
            state["selected_option"] = options[index] if 0 <= index < len(options) else None
        elif kind == "checkboxes":
            picked = [int(v) for v in raw if str(v).isdigit()] if isinstance(raw, list) else []
            state["selected_options"] = [options[n] for n in picked if 0 <= n < len(options)]
        else:
            continue
        values[block_id] = {str(el.get("action_id") or block_id): state}
        shown[block_id] = raw
    return values, shown
