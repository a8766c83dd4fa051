"""The workspace the fake serves: who is in it, its channels and their messages, views and files."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

BOT_USER = "U_BOT"
BOT_ID = "B_BOT"
BOT_NAME = "incident-bot"
APP_ID = "A_TEST"
TEAM_ID = "T_TEST"
TEAM_NAME = "Test"
WORKSPACE_URL = "https://test.slack.com/"
GENERAL_ID = "C_GENERAL"  # the driver's default channel for slash commands

SEED_USERS = {"U_DECLARER": "declarer", "U_ALICE": "alice", "U_BOB": "bob", "U_LEAD": "lead"}


@dataclass
class Message:
    ts: str
    channel: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    user: str = BOT_USER
    thread_ts: str | None = None
    updated_count: int = 0
    # Snapshots of the content: versions[0] as posted, versions[-1] is the current one.
    versions: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    visible_to: str = ""  # an ephemeral message: the one user who sees it

    def __post_init__(self) -> None:
        if not self.versions:
            self.versions.append(self.snapshot())

    # The content (blocks, metadata, attachments, files) is replaced by a new value on every change, never
    # changed in place, and the Web API copies what it takes in (webapi.py `_content`): so snapshots and
    # answers share it rather than copy it again on every post and every read of the history.
    def snapshot(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks, "metadata": self.metadata,
                "attachments": self.attachments, "at": time.time()}

    def to_api(self, *, include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text,
                               "team": TEAM_ID}
        if self.user == BOT_USER:
            out.update(bot_id=BOT_ID, app_id=APP_ID)
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.files:
            out["files"] = self.files
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.updated_count:
            out["edited"] = {"user": BOT_USER, "ts": self.ts}
        if include_metadata and self.metadata is not None:
            out["metadata"] = self.metadata
        return out


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    topic: str = ""
    members: set[str] = field(default_factory=set)
    pins: list[str] = field(default_factory=list)  # message ts, in pin order
    messages: list[Message] = field(default_factory=list)  # oldest first, thread replies included
    created: int = field(default_factory=lambda: int(time.time()))
    purpose: str = ""
    is_archived: bool = False
    is_im: bool = False
    bookmarks: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "name_normalized": self.name, "created": self.created,
                "creator": BOT_USER, "is_channel": not self.is_private and not self.is_im, "is_group": False,
                "is_im": self.is_im, "is_private": self.is_private, "is_archived": self.is_archived,
                "is_general": self.id == GENERAL_ID, "is_member": BOT_USER in self.members,
                "topic": {"value": self.topic, "creator": BOT_USER if self.topic else "", "last_set": 0},
                "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
                "num_members": len(self.members), "context_team_id": TEAM_ID}


def user_record(uid: str, name: str, *, real_name: str | None = None, is_bot: bool = False,
                **extra: Any) -> dict[str, Any]:
    """A user as users.info answers it."""
    real = real_name or name.replace("-", " ").replace("_", " ").title()
    return {"id": uid, "team_id": TEAM_ID, "name": name, "real_name": real, "deleted": False, "is_bot": is_bot,
            "tz": "UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
            "profile": {"display_name": name, "real_name": real, "email": f"{name}@test.example"}, **extra}


class Workspace:
    """The state: #general, the bot user and the seed users to begin with."""

    def __init__(self) -> None:
        # What message timestamps are taken from (seconds); the sandbox moves it with the bot's clock.
        self.clock: Callable[[], float] = time.time
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}  # usergroup id -> member user ids
        self.views: dict[str, dict[str, Any]] = {}  # view id -> current view as Slack returns it
        self.files: dict[str, dict[str, Any]] = {}  # file id -> record incl. "content" bytes once uploaded
        # Messages only one person sees (replies to a person's request): in no channel's history.
        self.ephemerals: list[Message] = []
        self._ids = itertools.count(1)
        self._last_ts_micros = 0
        self.users[BOT_USER] = user_record(BOT_USER, BOT_NAME, is_bot=True)
        self.channels[GENERAL_ID] = Channel(GENERAL_ID, "general", members={BOT_USER})
        for uid, name in SEED_USERS.items():
            self.add_user(uid, name)

    def add_user(self, id: str, name: str, *, real_name: str | None = None, **extra: Any) -> dict[str, Any]:
        """Known to users.info and invitable; joins #general like a real workspace member."""
        self.users[id] = user_record(id, name, real_name=real_name, **extra)
        if GENERAL_ID in self.channels:
            self.channels[GENERAL_ID].members.add(id)
        return self.users[id]

    def add_channel(self, name: str, *, is_private: bool = False, members: Iterable[str] = (),
                    bot_member: bool = True, id: str | None = None) -> Channel:
        if self.channel_by_name(name) is not None:
            raise ValueError(f"channel #{name} exists")
        ch = Channel(id or self._new_id("C"), name, is_private=is_private, members=set(members))
        if bot_member:
            ch.members.add(BOT_USER)
        self.channels[ch.id] = ch
        return ch

    def post_as(self, user: str, channel: str, text: str) -> Message:
        """A message a person wrote in a channel (not through the bot)."""
        message = Message(ts=self._next_ts(), channel=channel, text=text, user=user)
        self.channels[channel].messages.append(message)
        return message

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Message:
        """A message from the bot that only `user` sees, in `channel`, until they reload (as in Slack)."""
        message = Message(ts=self._next_ts(), channel=channel, text=text, blocks=list(blocks or []),
                          visible_to=user)
        self.ephemerals.append(message)
        return message

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def message(self, channel: str, ts: str) -> Message:
        """The message `ts` in `channel` (an id or a name); AssertionError naming what there is if none."""
        ch = self.channels.get(channel) or self.channel_by_name(channel)
        if ch is None:
            raise AssertionError(f"no channel {channel!r}; have {sorted(self.channels)}")
        for m in ch.messages:
            if m.ts == ts:
                return m
        raise AssertionError(f"no message {ts} in {ch.id}; have {[m.ts for m in ch.messages]}")

    def _dm(self, user: str) -> Channel:
        cid = "D" + user[1:]
        if cid not in self.channels:
            self.channels[cid] = Channel(cid, "", is_private=True, is_im=True, members={BOT_USER, user})
        return self.channels[cid]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    def _next_ts(self) -> str:
        # Like Slack: the posting time in microseconds, unique and increasing within the fake.
        micros = max(int(self.clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
