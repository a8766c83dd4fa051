"""A local fake of the Slack Web API, served over HTTP on loopback for the bot's tests.

Point a real `slack_sdk` `AsyncWebClient(base_url=fake.url)` at it. It keeps workspace state (channels,
messages, pins, views, files), records every call, enforces the Block Kit and API limits from
/work/shared/guide/slack-platform.md, and can inject failures and rate limits.

Deliberately not recorded in `calls`: uploads to `upload_url` (see `files`) and posts to response URLs
(see `response_urls` / `response_posts`), so "no Web API call was made" assertions stay meaningful.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import random
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from aiohttp import BodyPartReader, web

from tests.loopback import Loopback

BOT_USER = "U_BOT"
BOT_ID = "B_BOT"
APP_ID = "A_TEST"
TEAM_ID = "T_TEST"
TEAM_NAME = "Test"
WORKSPACE_URL = "https://test.slack.com/"
GENERAL_ID = "C_GENERAL"  # the driver's default channel for slash commands

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
MESSAGE_TEXT_LIMIT = 40_000
MESSAGE_BLOCKS_TEXT_LIMIT = 13_000  # (≈) Slack answers msg_blocks_too_long past roughly this much text
TOPIC_LIMIT = 250
RESPONSE_URL_USES = 5  # Slack allows a response_url to be used 5 times
TRIGGER_TTL = 3.0

SEED_USERS = {"U_DECLARER": "declarer", "U_ALICE": "alice", "U_BOB": "bob", "U_LEAD": "lead"}


# --------------------------------------------------------------------------------------------------------------------
# Block Kit validation
# --------------------------------------------------------------------------------------------------------------------

BLOCK_TYPES = frozenset({"section", "header", "context", "actions", "divider", "input", "rich_text", "image",
                         "markdown", "file", "video", "table"})
_SELECTS = frozenset({"static_select", "external_select", "users_select", "conversations_select", "channels_select",
                      "multi_static_select", "multi_external_select", "multi_users_select",
                      "multi_conversations_select", "multi_channels_select"})
_INTERACTIVE = _SELECTS | {"button", "checkboxes", "radio_buttons", "overflow", "datepicker", "timepicker",
                           "datetimepicker", "workflow_button"}
ACTIONS_ELEMENTS = _INTERACTIVE
ACCESSORY_ELEMENTS = _INTERACTIVE | {"image"}
INPUT_ELEMENTS = _SELECTS | {"plain_text_input", "checkboxes", "radio_buttons", "datepicker", "timepicker",
                             "datetimepicker", "email_text_input", "url_text_input", "number_input",
                             "rich_text_input", "file_input"}
_RICH_TEXT_CONTAINERS = frozenset({"rich_text_section", "rich_text_list", "rich_text_preformatted",
                                   "rich_text_quote"})


class _Invalid(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _fail(path: str, problem: str) -> NoReturn:
    raise _Invalid(path, problem)


def _obj(value: Any, path: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, f"{what} must be an object, got {type(value).__name__}")
    return value


def _str(value: Any, path: str, what: str, *, max_len: int, min_len: int = 1) -> str:
    if not isinstance(value, str):
        _fail(path, f"{what} must be a string, got {type(value).__name__}")
    if len(value) < min_len:
        _fail(path, f"{what} must be at least {min_len} character(s)")
    if len(value) > max_len:
        _fail(path, f"{what} must be at most {max_len} characters, got {len(value)}")
    return value


def _list(value: Any, path: str, what: str, *, max_items: int, min_items: int = 1) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, f"{what} must be an array, got {type(value).__name__}")
    if len(value) < min_items:
        _fail(path, f"{what} must have at least {min_items} item(s)")
    if len(value) > max_items:
        _fail(path, f"{what} must have at most {max_items} items, got {len(value)}")
    return value


def _text(value: Any, path: str, what: str, *, max_len: int, plain: bool = False) -> dict[str, Any]:
    obj = _obj(value, path, what)
    kind = obj.get("type")
    if kind not in ("plain_text", "mrkdwn"):
        _fail(f"{path}/type", f"{what} must be a text object of type plain_text or mrkdwn, got {kind!r}")
    if plain and kind != "plain_text":
        _fail(f"{path}/type", f"{what} must be plain_text, got {kind}")
    _str(obj.get("text"), f"{path}/text", f"{what} text", max_len=max_len)
    return obj


def _option_key(option: Any) -> tuple[Any, Any]:
    if not isinstance(option, dict):
        return (None, None)
    text = option.get("text")
    return (option.get("value"), text.get("text") if isinstance(text, dict) else None)


class _Checker:
    """Walks blocks, failing at the first violation. block_ids are unique across a message or view;
    action_ids within their block, as Slack's reference says."""

    def __init__(self) -> None:
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def blocks(self, blocks: Any, path: str, *, limit: int) -> None:
        if not isinstance(blocks, list):
            _fail(path, f"blocks must be an array, got {type(blocks).__name__}")
        if len(blocks) > limit:
            _fail(path, f"no more than {limit} blocks are allowed, got {len(blocks)}")
        for i, block in enumerate(blocks):
            self.block(block, f"{path}/{i}")

    def _unique(self, value: Any, path: str, what: str, seen: set[str]) -> None:
        _str(value, path, what, max_len=255)
        if value in seen:
            _fail(path, f"{what} {value!r} is not unique within this message/view")
        seen.add(value)

    def block(self, value: Any, path: str) -> None:
        block = _obj(value, path, "block")
        self.action_ids = set()
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            _fail(f"{path}/type", f"unknown block type {kind!r} (known: {', '.join(sorted(BLOCK_TYPES))})")
        if "block_id" in block:
            self._unique(block["block_id"], f"{path}/block_id", "block_id", self.block_ids)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                _fail(path, "section needs text or fields")
            if "text" in block:
                _text(block["text"], f"{path}/text", "section text", max_len=3000)
            if "fields" in block:
                fields = _list(block["fields"], f"{path}/fields", "section fields", max_items=10)
                for i, f in enumerate(fields):
                    _text(f, f"{path}/fields/{i}", "section field", max_len=2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{path}/accessory", ACCESSORY_ELEMENTS)
        elif kind == "header":
            _text(block.get("text"), f"{path}/text", "header text", max_len=150, plain=True)
        elif kind == "context":
            elements = _list(block.get("elements"), f"{path}/elements", "context elements", max_items=10)
            for i, el in enumerate(elements):
                p = f"{path}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image(el, p)
                else:
                    _text(el, p, "context element", max_len=3000)
        elif kind == "actions":
            elements = _list(block.get("elements"), f"{path}/elements", "actions elements", max_items=25)
            for i, el in enumerate(elements):
                self.element(el, f"{path}/elements/{i}", ACTIONS_ELEMENTS)
        elif kind == "input":
            _text(block.get("label"), f"{path}/label", "input label", max_len=2000, plain=True)
            if "hint" in block:
                _text(block["hint"], f"{path}/hint", "input hint", max_len=2000, plain=True)
            if "element" not in block:
                _fail(path, "input block needs an element")
            self.element(block["element"], f"{path}/element", INPUT_ELEMENTS)
        elif kind == "image":
            self.image(block, path)
            if "title" in block:
                _text(block["title"], f"{path}/title", "image title", max_len=2000, plain=True)
        elif kind == "rich_text":
            elements = _list(block.get("elements"), f"{path}/elements", "rich_text elements", max_items=10_000)
            for i, el in enumerate(elements):
                self.rich_text(el, f"{path}/elements/{i}")
        elif kind == "markdown":
            _str(block.get("text"), f"{path}/text", "markdown text", max_len=12_000)
        elif kind == "video":
            for key in ("alt_text", "thumbnail_url", "video_url"):
                _str(block.get(key), f"{path}/{key}", f"video {key}", max_len=3000)
            _text(block.get("title"), f"{path}/title", "video title", max_len=200, plain=True)
        elif kind == "file":
            _str(block.get("external_id"), f"{path}/external_id", "file external_id", max_len=255)
        elif kind == "table":
            _list(block.get("rows"), f"{path}/rows", "table rows", max_items=100)

    def image(self, value: dict[str, Any], path: str) -> None:
        if "image_url" in value:
            _str(value["image_url"], f"{path}/image_url", "image_url", max_len=3000)
        elif "slack_file" not in value:
            _fail(path, "image needs image_url or slack_file")
        _str(value.get("alt_text"), f"{path}/alt_text", "image alt_text", max_len=2000)

    def rich_text(self, value: Any, path: str) -> None:
        el = _obj(value, path, "rich_text element")
        kind = el.get("type")
        if kind not in _RICH_TEXT_CONTAINERS:
            _fail(f"{path}/type", f"unknown rich_text element {kind!r}")
        children = _list(el.get("elements"), f"{path}/elements", f"{kind} elements", max_items=10_000,
                         min_items=0)
        for i, child in enumerate(children):
            p = f"{path}/elements/{i}"
            if kind == "rich_text_list":
                if not isinstance(child, dict) or child.get("type") != "rich_text_section":
                    _fail(p, "rich_text_list elements must be rich_text_section")
                self.rich_text(child, p)
                continue
            leaf = _obj(child, p, "rich text element")
            if leaf.get("type") == "text":
                _str(leaf.get("text"), f"{p}/text", "rich text", max_len=MESSAGE_TEXT_LIMIT)
            elif leaf.get("type") == "link":
                _str(leaf.get("url"), f"{p}/url", "link url", max_len=3000)
        if kind == "rich_text_list" and el.get("style") not in ("bullet", "ordered"):
            _fail(f"{path}/style", "rich_text_list style must be bullet or ordered")

    def options(self, value: Any, path: str, what: str, *, max_items: int, min_items: int = 1,
                plain: bool = True) -> list[Any]:
        options = _list(value, path, what, max_items=max_items, min_items=min_items)
        for i, option in enumerate(options):
            p = f"{path}/{i}"
            opt = _obj(option, p, "option")
            _text(opt.get("text"), f"{p}/text", "option text", max_len=75, plain=plain)
            _str(opt.get("value"), f"{p}/value", "option value", max_len=150)
            if "description" in opt:
                _text(opt["description"], f"{p}/description", "option description", max_len=75, plain=plain)
            if "url" in opt:
                _str(opt["url"], f"{p}/url", "option url", max_len=3000)
        return options

    def _initial(self, el: dict[str, Any], path: str, options: list[Any]) -> None:
        # Slack refuses an initial option that is not one of the options: a common real-world failure.
        keys = {_option_key(o) for o in options}
        if "initial_option" in el and _option_key(el["initial_option"]) not in keys:
            _fail(f"{path}/initial_option", "initial_option must match one of the options")
        for i, opt in enumerate(el.get("initial_options") or []):
            if _option_key(opt) not in keys:
                _fail(f"{path}/initial_options/{i}", "initial_options must match options")

    def element(self, value: Any, path: str, allowed: frozenset[str]) -> None:
        el = _obj(value, path, "element")
        kind = el.get("type")
        if kind not in allowed:
            _fail(f"{path}/type", f"element type {kind!r} is not allowed here")
        if kind == "image":
            self.image(el, path)
            return
        if "action_id" in el:
            self._unique(el["action_id"], f"{path}/action_id", "action_id", self.action_ids)
        if "placeholder" in el:
            _text(el["placeholder"], f"{path}/placeholder", "placeholder", max_len=150, plain=True)
        if "confirm" in el:
            self.confirm(el["confirm"], f"{path}/confirm")
        if kind == "button":
            _text(el.get("text"), f"{path}/text", "button text", max_len=75, plain=True)
            if "value" in el:
                _str(el["value"], f"{path}/value", "button value", max_len=2000)
            if "url" in el:
                _str(el["url"], f"{path}/url", "button url", max_len=3000)
            if "style" in el and el["style"] not in ("primary", "danger"):
                _fail(f"{path}/style", "button style must be primary or danger")
        elif kind in ("static_select", "multi_static_select"):
            if ("options" in el) == ("option_groups" in el):
                _fail(path, f"{kind} needs exactly one of options or option_groups")
            if "options" in el:
                options = self.options(el["options"], f"{path}/options", "select options", max_items=100)
            else:
                groups = _list(el["option_groups"], f"{path}/option_groups", "option_groups", max_items=100)
                options = []
                for i, group in enumerate(groups):
                    g = _obj(group, f"{path}/option_groups/{i}", "option group")
                    _text(g.get("label"), f"{path}/option_groups/{i}/label", "option group label", max_len=75,
                          plain=True)
                    options += self.options(g.get("options"), f"{path}/option_groups/{i}/options",
                                            "option group options", max_items=100)
            self._initial(el, path, options)
        elif kind == "overflow":
            self.options(el.get("options"), f"{path}/options", "overflow options", max_items=5)
        elif kind in ("checkboxes", "radio_buttons"):
            options = self.options(el.get("options"), f"{path}/options", f"{kind} options", max_items=10,
                                   plain=False)
            self._initial(el, path, options)
        elif kind == "plain_text_input":
            if "initial_value" in el:
                _str(el["initial_value"], f"{path}/initial_value", "initial_value", max_len=3000, min_len=0)
            max_len = el.get("max_length", 3000)
            if not isinstance(max_len, int) or not 1 <= max_len <= 3000:
                _fail(f"{path}/max_length", "max_length must be an integer from 1 to 3000")
            min_len = el.get("min_length", 0)
            if not isinstance(min_len, int) or not 0 <= min_len <= max_len:
                _fail(f"{path}/min_length", "min_length must be an integer from 0 to max_length")
        elif kind == "datepicker" and "initial_date" in el:
            if not isinstance(el["initial_date"], str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", el["initial_date"]):
                _fail(f"{path}/initial_date", "initial_date must be YYYY-MM-DD")
        elif kind == "timepicker" and "initial_time" in el:
            if not isinstance(el["initial_time"], str) or not re.fullmatch(r"\d{2}:\d{2}", el["initial_time"]):
                _fail(f"{path}/initial_time", "initial_time must be HH:mm")

    def confirm(self, value: Any, path: str) -> None:
        c = _obj(value, path, "confirm")
        _text(c.get("title"), f"{path}/title", "confirm title", max_len=100, plain=True)
        _text(c.get("text"), f"{path}/text", "confirm text", max_len=300)
        _text(c.get("confirm"), f"{path}/confirm", "confirm button", max_len=30, plain=True)
        _text(c.get("deny"), f"{path}/deny", "deny button", max_len=30, plain=True)


def _text_length(node: Any) -> int:
    """Characters of text a message's blocks carry (what msg_blocks_too_long is about)."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_length(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_length(v) for v in node)
    return 0


def _find_violation(blocks: Any, *, limit: int, path: str = "/blocks",
                    text_limit: int | None = None) -> tuple[str, str] | None:
    """(error code, message) for the first violation, or None."""
    try:
        _Checker().blocks(blocks, path, limit=limit)
    except _Invalid as e:
        return "invalid_blocks", str(e)
    if text_limit is not None:
        total = _text_length(blocks)
        if total > text_limit:
            return "msg_blocks_too_long", f"{path}: blocks carry {total} characters of text (limit ≈{text_limit})"
    return None


def validate_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT) -> str | None:
    """The first Block Kit violation in `blocks` as a readable message, or None when Slack would accept them.

    With the message limit (≤ 50) the total-text check behind `msg_blocks_too_long` applies too; pass
    `limit=100` for modals and Home tabs.
    """
    found = _find_violation(blocks, limit=limit,
                            text_limit=MESSAGE_BLOCKS_TEXT_LIMIT if limit <= MESSAGE_BLOCK_LIMIT else None)
    return found[1] if found else None


# --------------------------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    http_method: str = "POST"
    status: int | None = None  # HTTP status, set once answered
    response: dict[str, Any] | None = None  # JSON answer, set once answered

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


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
    ephemeral_user: str | None = None  # set for chat.postEphemeral

    def snapshot(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": copy.deepcopy(self.blocks), "metadata": copy.deepcopy(self.metadata),
                "attachments": copy.deepcopy(self.attachments), "at": time.time()}

    def to_api(self, *, include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text,
                               "team": TEAM_ID}
        if self.user == BOT_USER:
            out.update(bot_id=BOT_ID, app_id=APP_ID)
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.files:
            out["files"] = copy.deepcopy(self.files)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.updated_count:
            out["edited"] = {"user": BOT_USER, "ts": self.ts}
        if include_metadata and self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
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


@dataclass
class ResponseCall:
    key: str
    body: dict[str, Any]
    at: float
    status: int
    error: str | None = None  # why it was refused (then it is not in response_posts)
    detail: str = ""


@dataclass
class _Fault:
    kind: Literal["error", "ratelimit", "status"]
    error: str = ""
    retry_after: int = 1
    status: int = 200


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_blocks(code: str, message: str) -> _SlackError:
    return _SlackError(code, errors=[message], response_metadata={"messages": [f"[ERROR] {message}"]})


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _SlackError("invalid_arguments", detail=f"not an integer: {value!r}") from None


def _ts_key(ts: Any) -> tuple[int, int]:
    # Compare ts as (seconds, micro) integers: floats lose the last digit at this magnitude.
    sec, _, frac = str(ts).partition(".")
    try:
        return int(sec or 0), int((frac + "000000")[:6])
    except ValueError:
        raise _SlackError("invalid_arguments", detail=f"bad ts {ts!r}") from None


def _id_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


# Form fields that slack-sdk sends JSON-encoded.
_JSON_FIELDS = frozenset({"blocks", "attachments", "metadata", "view", "files", "users", "user_auth_blocks",
                          "outputs"})

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakeSlack(Loopback):
    def __init__(self, *, latency: float = 0.0, jitter: float = 0.0) -> None:
        self.latency = latency
        # Random extra delay per call, so concurrent calls can land at Slack in any order.
        self.jitter = jitter
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # view id -> current view as Slack returns it
        self.home_tabs: dict[str, dict[str, Any]] = {}  # user id -> published Home tab
        self.files: dict[str, dict[str, Any]] = {}  # file id -> record incl. "content" bytes once uploaded
        self.ephemerals: list[Message] = []
        self.response_urls: list[ResponseCall] = []
        self.response_posts: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._ts_counter = itertools.count(1)
        self._last_ts_micros = 0
        self._faults: dict[str, deque[_Fault]] = {}
        self._used_triggers: set[str] = set()
        self._issued_triggers: dict[str, float] = {}
        self._response_targets: dict[str, tuple[str, str]] = {}
        self._changed = asyncio.Event()
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "conversations.create": self._conversations_create,
            "conversations.invite": self._conversations_invite,
            "conversations.setTopic": self._conversations_set_topic,
            "conversations.join": self._conversations_join,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.members": self._conversations_members,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "pins.add": self._pins_add,
            "pins.remove": self._pins_remove,
            "pins.list": self._pins_list,
            "bookmarks.add": self._bookmarks_add,
            "bookmarks.list": self._bookmarks_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
        }
        self.users[BOT_USER] = self._user_record(BOT_USER, "incident-bot", is_bot=True)
        self.channels[GENERAL_ID] = Channel(GENERAL_ID, "general", members={BOT_USER})
        for uid, name in SEED_USERS.items():
            self.add_user(uid, name)

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response)
        app.router.add_post("/upload/{file_id}", self._handle_upload)

    @property
    def root(self) -> str:
        if not self.port:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/api/"

    # ---- seeding -----------------------------------------------------------------------------------------------

    @staticmethod
    def _user_record(uid: str, name: str, *, real_name: str | None = None, is_bot: bool = False,
                     **extra: Any) -> dict[str, Any]:
        real = real_name or name.replace("-", " ").replace("_", " ").title()
        return {"id": uid, "team_id": TEAM_ID, "name": name, "real_name": real, "deleted": False, "is_bot": is_bot,
                "tz": "UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
                "profile": {"display_name": name, "real_name": real, "email": f"{name}@test.example"}, **extra}

    def add_user(self, id: str, name: str, *, real_name: str | None = None, **extra: Any) -> dict[str, Any]:
        """Known to users.info and invitable; joins #general like a real workspace member."""
        self.users[id] = self._user_record(id, name, real_name=real_name, **extra)
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

    def new_trigger_id(self) -> str:
        """A trigger id that expires 3 s from now, like Slack's (ids made up by tests never expire by time)."""
        trig = f"trig-{uuid.uuid4().hex}"
        self._issued_triggers[trig] = time.monotonic()
        return trig

    # ---- fault injection ---------------------------------------------------------------------------------------

    def post_as(self, user: str, channel: str, text: str) -> Message:
        """A message a person wrote in a channel (not through the bot)."""
        message = Message(ts=self._next_ts(), channel=channel, text=text, user=user)
        message.versions.append(message.snapshot())
        self.channels[channel].messages.append(message)
        return message

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(_Fault("error", error) for _ in range(times))

    def fail_status(self, method: str, status: int = 500, *, times: int = 1) -> None:
        """Answer the next `times` calls with an HTTP error status, as Slack does when it is in trouble."""
        self._faults.setdefault(method, deque()).extend(
            _Fault("status", "internal_error", status=status) for _ in range(times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(
            _Fault("ratelimit", "ratelimited", retry_after) for _ in range(times))

    # ---- views for tests ---------------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def message(self, channel: str, ts: str) -> Message:
        ch = self.channels.get(channel) or self.channel_by_name(channel)
        if ch is None:
            raise AssertionError(f"no channel {channel!r}; have {sorted(self.channels)}")
        for m in ch.messages:
            if m.ts == ts:
                return m
        raise AssertionError(f"no message {ts} in {ch.id}; have {[m.ts for m in ch.messages]}")

    def response_url(self, key: str = "", *, message: tuple[str, str] | None = None) -> str:
        """A response_url like Slack's. With `message=(channel, ts)`, replace_original/delete_original act on it."""
        key = key or uuid.uuid4().hex
        if message is not None:
            self._response_targets[key] = message
        return f"{self.root}/response/{key}"

    # The tests' interface takes a timeout argument, hence the noqa.
    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,  # noqa: ASYNC109
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Answered calls to `method` (matching `where`), once there are at least `count` of them.

        Only answered calls count, so the fake's state already reflects them when this returns.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            found = [c for c in self.calls
                     if c.method == method and c.response is not None and (where is None or where(c))]
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass
        same = self.calls_to(method)
        seen = Counter(c.method for c in self.calls)
        detail = "; ".join(f"{c.error or 'ok'} {_short(c.args)}" for c in same[-5:])
        raise AssertionError(
            f"waited {timeout}s for {count} call(s) to {method}{' matching `where`' if where else ''}, "
            f"got {len(found)} (of {len(same)} to {method}{': ' + detail if detail else ''}). "
            f"Methods received: {dict(seen) or 'none'}")

    async def wait_for_response(self, key: str, count: int = 1,
                                timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            found = [body for k, body in self.response_posts if k == key]
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"waited {timeout}s for {count} post(s) to response_url {key!r}, got "
                                     f"{len(found)}; refused: {[r.error for r in self.response_urls if r.error]}")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        parse_error: str | None = None
        try:
            args, token = await _read_args(request)
        except ValueError as e:
            args, token, parse_error = {}, None, str(e)
        call = Call(method, args, token, time.monotonic(), request.method)
        self.calls.append(call)
        self._notify()
        if self.latency or self.jitter:
            await asyncio.sleep(self.latency + random.uniform(0, self.jitter))
        status, body, headers = self._answer(call, parse_error)
        call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, call: Call, parse_error: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        faults = self._faults.get(call.method)
        if faults:
            fault = faults.popleft()
            if fault.kind == "ratelimit":
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
            if fault.kind == "status":
                return fault.status, {"ok": False, "error": fault.error}, {}
            return 200, {"ok": False, "error": fault.error}, {}
        if parse_error is not None:
            return 200, {"ok": False, "error": "invalid_json", "detail": parse_error}, {}
        handler = self._handlers.get(call.method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if not call.token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if not call.token.startswith(("xoxb-", "xoxp-")):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        try:
            body = handler(call.args)
        except _SlackError as e:
            return 200, {"ok": False, "error": e.error, **e.extra}, {}
        return 200, {"ok": True, **body}, {}

    async def _handle_response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        raw = await request.read()
        if self.latency or self.jitter:
            await asyncio.sleep(self.latency + random.uniform(0, self.jitter))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        now = time.monotonic()
        if not isinstance(body, dict):
            return self._refuse_response(ResponseCall(key, {"raw": raw.decode(errors="replace")}, now, 400,
                                                      "invalid_payload"))
        if sum(1 for r in self.response_urls if r.key == key and r.error is None) >= RESPONSE_URL_USES:
            return self._refuse_response(ResponseCall(key, body, now, 404, "used_url"))
        blocks = body.get("blocks")
        if blocks:
            found = _find_violation(blocks, limit=MESSAGE_BLOCK_LIMIT, text_limit=MESSAGE_BLOCKS_TEXT_LIMIT)
            if found is not None:
                return self._refuse_response(ResponseCall(key, body, now, 400, found[0], found[1]))
        if not body.get("text") and not blocks and not body.get("delete_original"):
            return self._refuse_response(ResponseCall(key, body, now, 400, "no_text"))
        target = self._response_targets.get(key)
        if target is not None:
            self._apply_response_to_message(target, body)
        self.response_urls.append(ResponseCall(key, body, now, 200))
        self.response_posts.append((key, body))
        self._notify()
        return web.Response(text="ok", content_type="text/plain")

    def _refuse_response(self, record: ResponseCall) -> web.Response:
        self.response_urls.append(record)
        self._notify()
        return web.Response(status=record.status, text=record.error or "", content_type="text/plain")

    def _apply_response_to_message(self, target: tuple[str, str], body: dict[str, Any]) -> None:
        channel, ts = target
        ch = self.channels.get(channel)
        msg = next((m for m in ch.messages if m.ts == ts), None) if ch else None
        if ch is None or msg is None:
            return
        if _bool(body.get("delete_original")):
            ch.messages.remove(msg)
            if ts in ch.pins:
                ch.pins.remove(ts)
        elif _bool(body.get("replace_original")):
            msg.text = str(body.get("text") or "")
            msg.blocks = list(body.get("blocks") or [])
            msg.updated_count += 1
            msg.versions.append(msg.snapshot())

    async def _handle_upload(self, request: web.Request) -> web.Response:
        record = self.files.get(request.match_info["file_id"])
        if self.latency or self.jitter:
            await asyncio.sleep(self.latency + random.uniform(0, self.jitter))
        if record is None:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type == "multipart/form-data":
            content = b""
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader):
                    content = bytes(await part.read())
                    break
        else:
            content = await request.read()
        record["content"] = content
        self._notify()
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    def _next_ts(self) -> str:
        # Like Slack: the posting time in microseconds, unique and increasing within the fake.
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, ref: Any, *, names: bool = False) -> Channel:
        """Resolve a channel argument; only chat.postMessage/postEphemeral accept names and user ids."""
        if not isinstance(ref, str) or not ref:
            raise _SlackError("channel_not_found")
        ch = self.channels.get(ref)
        if ch is None and names:
            ch = self.channel_by_name(ref)
            if ch is None and ref in self.users and ref != BOT_USER:
                ch = self._dm(ref)
        if ch is None or (ch.is_private and BOT_USER not in ch.members and not names):
            raise _SlackError("channel_not_found")  # private channels are invisible to non-members
        return ch

    def _dm(self, user: str) -> Channel:
        cid = "D" + user[1:]
        if cid not in self.channels:
            self.channels[cid] = Channel(cid, "", is_private=True, is_im=True, members={BOT_USER, user})
        return self.channels[cid]

    @staticmethod
    def _writable(ch: Channel, *, public_ok: bool = False) -> None:
        if ch.is_archived:
            raise _SlackError("is_archived")
        if BOT_USER not in ch.members and not (public_ok and not ch.is_private):
            raise _SlackError("not_in_channel")

    @staticmethod
    def _find(ch: Channel, ts: Any) -> Message:
        for m in ch.messages:
            if m.ts == ts:
                return m
        raise _SlackError("message_not_found")

    def _replies(self, ch: Channel, parent_ts: str) -> list[Message]:
        return [m for m in ch.messages if m.thread_ts == parent_ts and m.ts != parent_ts]

    def _message_api(self, ch: Channel, m: Message, *, include_metadata: bool = True) -> dict[str, Any]:
        out = m.to_api(include_metadata=include_metadata)
        replies = self._replies(ch, m.ts)
        if replies:
            out.update(thread_ts=m.ts, reply_count=len(replies), reply_users=sorted({r.user for r in replies}),
                       latest_reply=replies[-1].ts)
        return out

    @staticmethod
    def _content(args: dict[str, Any], *, keep_empty_blocks: bool = False) -> dict[str, Any]:
        """Validated message content from args; only keys present in args are returned."""
        out: dict[str, Any] = {}
        if args.get("text") is not None:
            text = args["text"] if isinstance(args["text"], str) else str(args["text"])
            if len(text) > MESSAGE_TEXT_LIMIT:
                raise _SlackError("msg_too_long")
            out["text"] = text
        blocks = args.get("blocks")
        if blocks is not None and (blocks != [] or keep_empty_blocks):
            if isinstance(blocks, str):
                raise _SlackError("invalid_blocks_format")
            found = _find_violation(blocks, limit=MESSAGE_BLOCK_LIMIT, text_limit=MESSAGE_BLOCKS_TEXT_LIMIT)
            if found is not None:
                raise _invalid_blocks(*found)
            out["blocks"] = copy.deepcopy(blocks)
        attachments = args.get("attachments")
        if attachments:
            if not isinstance(attachments, list):
                raise _SlackError("invalid_attachments")
            out["attachments"] = copy.deepcopy(attachments)
        if args.get("metadata") is not None:
            metadata = args["metadata"]
            if (not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str)
                    or not metadata["event_type"] or not isinstance(metadata.get("event_payload"), dict)):
                raise _SlackError("invalid_metadata_format")
            out["metadata"] = copy.deepcopy(metadata)
        return out

    def _use_trigger(self, trigger: Any) -> None:
        if not isinstance(trigger, str) or not trigger:
            raise _SlackError("invalid_arguments", detail="trigger_id is required")
        if not trigger.startswith("trig"):
            raise _SlackError("invalid_trigger_id")
        issued = self._issued_triggers.get(trigger)
        if trigger in self._used_triggers or (issued is not None and time.monotonic() - issued > TRIGGER_TTL):
            raise _SlackError("expired_trigger_id")
        self._used_triggers.add(trigger)  # used once, even if the view is then refused

    # ---- methods: auth, conversations -------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": WORKSPACE_URL, "team": TEAM_NAME, "user": "incident-bot", "team_id": TEAM_ID,
                "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise _SlackError("invalid_name_required")
        if len(name) > 80:
            raise _SlackError("invalid_name_maxlength")
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise _SlackError("invalid_name_specials")
        if re.fullmatch(r"[-_]+", name):
            raise _SlackError("invalid_name_punctuation")
        if self.channel_by_name(name) is not None:
            raise _SlackError("name_taken")
        ch = self.add_channel(name, is_private=_bool(args.get("is_private")))
        return {"channel": ch.to_api()}

    def _conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if ch.is_im:
            raise _SlackError("method_not_supported_for_channel_type")
        self._writable(ch)
        users = _id_list(args.get("users"))
        if not users:
            raise _SlackError("no_user")
        if len(users) > 1000:
            raise _SlackError("too_many_users")
        if BOT_USER in users:
            raise _SlackError("cant_invite_self")
        unknown = [u for u in users if u not in self.users]
        if unknown:
            raise _SlackError("user_not_found",
                              errors=[{"user": u, "ok": False, "error": "user_not_found"} for u in unknown])
        new = [u for u in users if u not in ch.members]
        if not new:
            raise _SlackError("already_in_channel")
        ch.members.update(new)
        return {"channel": ch.to_api()}

    def _conversations_set_topic(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        self._writable(ch)
        topic = args.get("topic")
        if topic is None:
            raise _SlackError("invalid_arguments", detail="topic is required")
        topic = str(topic)
        if len(topic) > TOPIC_LIMIT:
            raise _SlackError("too_long")
        ch.topic = topic
        return {"channel": ch.to_api()}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if ch.is_private or ch.is_im:
            raise _SlackError("method_not_supported_for_channel_type")
        if ch.is_archived:
            raise _SlackError("is_archived")
        extra: dict[str, Any] = {}
        if BOT_USER in ch.members:
            extra = {"warning": "already_in_channel",
                     "response_metadata": {"warnings": ["already_in_channel"]}}
        ch.members.add(BOT_USER)
        return {"channel": ch.to_api(), **extra}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(args.get("channel")).to_api()}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        return {"members": sorted(ch.members), "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if BOT_USER not in ch.members:
            raise _SlackError("not_in_channel")
        limit = max(1, min(_int(args.get("limit"), 100), 999))
        inclusive = _bool(args.get("inclusive"))
        oldest = _ts_key(args.get("oldest") or "0")
        latest = _ts_key(args["latest"]) if args.get("latest") else None
        cursor = str(args.get("cursor") or "")
        offset = int(cursor.removeprefix("next_")) if cursor.startswith("next_") else 0

        def in_range(m: Message) -> bool:
            k = _ts_key(m.ts)
            above = k >= oldest if inclusive else k > oldest
            below = latest is None or (k <= latest if inclusive else k < latest)
            return above and below

        top = [m for m in reversed(ch.messages) if (m.thread_ts is None or m.thread_ts == m.ts) and in_range(m)]
        page = top[offset:offset + limit]
        more = offset + limit < len(top)
        include_metadata = _bool(args.get("include_all_metadata"))
        return {"messages": [self._message_api(ch, m, include_metadata=include_metadata) for m in page],
                "has_more": more, "pin_count": len(ch.pins),
                "response_metadata": {"next_cursor": f"next_{offset + limit}" if more else ""}}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if BOT_USER not in ch.members:
            raise _SlackError("not_in_channel")
        parent = next((m for m in ch.messages if m.ts == args.get("ts")), None)
        if parent is None:
            raise _SlackError("thread_not_found")
        include_metadata = _bool(args.get("include_all_metadata"))
        thread = [parent, *self._replies(ch, parent.ts)]
        return {"messages": [self._message_api(ch, m, include_metadata=include_metadata) for m in thread],
                "has_more": False, "response_metadata": {"next_cursor": ""}}

    # ---- methods: chat ----------------------------------------------------------------------------------------

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"), names=True)
        self._writable(ch, public_ok=True)  # chat:write.public lets the bot post to public channels
        content = self._content(args)
        if not content.get("text") and not content.get("blocks") and not content.get("attachments"):
            raise _SlackError("no_text")
        thread_ts = args.get("thread_ts") or None
        msg = Message(self._next_ts(), ch.id, content.get("text", ""), content.get("blocks", []),
                      content.get("metadata"), thread_ts=str(thread_ts) if thread_ts else None,
                      attachments=content.get("attachments", []))
        msg.versions.append(msg.snapshot())
        ch.messages.append(msg)
        return {"channel": ch.id, "ts": msg.ts, "message": msg.to_api()}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"), names=True)
        self._writable(ch, public_ok=True)
        user = args.get("user")
        if not isinstance(user, str) or user not in self.users:
            raise _SlackError("user_not_found")
        if user not in ch.members:
            raise _SlackError("user_not_in_channel")
        content = self._content(args)
        if not content.get("text") and not content.get("blocks") and not content.get("attachments"):
            raise _SlackError("no_text")
        msg = Message(self._next_ts(), ch.id, content.get("text", ""), content.get("blocks", []),
                      thread_ts=args.get("thread_ts") or None, attachments=content.get("attachments", []),
                      ephemeral_user=user)
        msg.versions.append(msg.snapshot())
        self.ephemerals.append(msg)
        return {"message_ts": msg.ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))  # ids only: chat.update does not resolve names
        if ch.is_archived:
            raise _SlackError("is_archived")
        msg = self._find(ch, args.get("ts"))
        if msg.user != BOT_USER:
            raise _SlackError("cant_update_message")
        content = self._content(args, keep_empty_blocks=True)
        if not any(k in content for k in ("text", "blocks", "attachments", "metadata")):
            raise _SlackError("no_text")
        # Fields left out keep their previous value, as on Slack; blocks=[] removes the blocks.
        msg.text = content.get("text", msg.text)
        msg.blocks = content.get("blocks", msg.blocks)
        msg.attachments = content.get("attachments", msg.attachments)
        msg.metadata = content.get("metadata", msg.metadata)
        if not msg.text and not msg.blocks and not msg.attachments and not msg.files:
            raise _SlackError("no_text")
        msg.updated_count += 1
        msg.versions.append(msg.snapshot())
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        msg = self._find(ch, args.get("ts"))
        if msg.user != BOT_USER:
            raise _SlackError("cant_delete_message")
        ch.messages.remove(msg)
        if msg.ts in ch.pins:
            ch.pins.remove(msg.ts)
        return {"channel": ch.id, "ts": msg.ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        msg = self._find(ch, args.get("message_ts"))
        link = f"{WORKSPACE_URL}archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    # ---- methods: pins, bookmarks -----------------------------------------------------------------------------

    def _pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        self._writable(ch)
        msg = self._find(ch, args.get("timestamp"))
        if msg.ts in ch.pins:
            raise _SlackError("already_pinned")
        ch.pins.append(msg.ts)
        return {}

    def _pins_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        self._writable(ch)
        msg = self._find(ch, args.get("timestamp"))
        if msg.ts not in ch.pins:
            raise _SlackError("no_pin")
        ch.pins.remove(msg.ts)
        return {}

    def _pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        items = [{"type": "message", "channel": ch.id, "created": int(time.time()), "created_by": BOT_USER,
                  "message": self._message_api(ch, self._find(ch, ts))} for ts in reversed(ch.pins)]
        return {"items": items}

    def _bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel_id"))
        if ch.is_archived:
            raise _SlackError("is_archived")
        title, kind, link = args.get("title"), args.get("type"), args.get("link")
        if not isinstance(title, str) or not title:
            raise _SlackError("invalid_arguments", detail="title is required")
        if kind != "link":
            raise _SlackError("invalid_arguments", detail="type must be link")
        if not isinstance(link, str) or not re.match(r"https?://", link):
            raise _SlackError("invalid_link")
        now = int(time.time())
        bookmark = {"id": self._new_id("Bk"), "channel_id": ch.id, "title": title, "link": link, "type": "link",
                    "emoji": args.get("emoji"), "icon_url": None, "entity_id": args.get("entity_id"),
                    "date_created": now, "date_updated": 0, "rank": f"{len(ch.bookmarks):04d}",
                    "last_updated_by_user_id": BOT_USER, "last_updated_by_team_id": TEAM_ID, "shortcut_id": None,
                    "app_id": APP_ID}
        ch.bookmarks.append(bookmark)
        return {"bookmark": bookmark}

    def _bookmarks_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"bookmarks": copy.deepcopy(self._channel(args.get("channel_id")).bookmarks)}

    # ---- methods: views ---------------------------------------------------------------------------------------

    def _checked_view(self, view: Any, kind: str) -> dict[str, Any]:
        if isinstance(view, str):
            raise _SlackError("invalid_arguments", detail="view is not valid JSON")
        try:
            v = _obj(view, "/view", "view")
            if v.get("type") != kind:
                _fail("/view/type", f"view type must be {kind}, got {v.get('type')!r}")
            if kind == "modal":
                _text(v.get("title"), "/view/title", "modal title", max_len=24, plain=True)
                for key in ("submit", "close"):
                    if key in v:
                        _text(v[key], f"/view/{key}", f"modal {key}", max_len=24, plain=True)
                blocks = v.get("blocks")
                if (isinstance(blocks, list) and "submit" not in v
                        and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)):
                    _fail("/view/submit", "submit is required when a modal has input blocks")
            if "callback_id" in v:
                _str(v["callback_id"], "/view/callback_id", "callback_id", max_len=255, min_len=0)
            if "private_metadata" in v:
                _str(v["private_metadata"], "/view/private_metadata", "private_metadata", max_len=3000, min_len=0)
            if "external_id" in v:
                _str(v["external_id"], "/view/external_id", "external_id", max_len=255)
            if "blocks" not in v:
                _fail("/view/blocks", "blocks are required")
        except _Invalid as e:
            raise _SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}"]}) from None
        found = _find_violation(v["blocks"], limit=VIEW_BLOCK_LIMIT, path="/view/blocks")
        if found is not None:
            raise _invalid_blocks(*found)
        return v

    def _store_view(self, view: dict[str, Any], *, view_id: str | None = None,
                    previous: str | None = None) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        root = self.views.get(vid, {}).get("root_view_id") or vid
        stored = {**copy.deepcopy(view), "id": vid, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID,
                  "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
                  "external_id": view.get("external_id", ""), "state": {"values": {}},
                  "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}", "root_view_id": root,
                  "previous_view_id": previous, "clear_on_close": bool(view.get("clear_on_close", False)),
                  "notify_on_close": bool(view.get("notify_on_close", False))}
        self.views[vid] = stored
        return {"view": copy.deepcopy(stored)}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(args.get("trigger_id"))
        return self._store_view(self._checked_view(args.get("view"), "modal"))

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(args.get("trigger_id"))
        return self._store_view(self._checked_view(args.get("view"), "modal"))

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        vid, external = args.get("view_id"), args.get("external_id")
        if not vid and not external:
            raise _SlackError("invalid_arguments", detail="view_id or external_id is required")
        current = self.views.get(vid) if vid else next(
            (v for v in self.views.values() if external and v.get("external_id") == external), None)
        if current is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        view = self._checked_view(args.get("view"), "modal")
        return self._store_view(view, view_id=current["id"], previous=current.get("previous_view_id"))

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user_id")
        if not isinstance(user, str) or user not in self.users:
            raise _SlackError("user_not_found")
        result = self._store_view(self._checked_view(args.get("view"), "home"))
        self.home_tabs[user] = result["view"]
        return result

    # ---- methods: users, usergroups ---------------------------------------------------------------------------

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup")))
        if group is None:
            raise _SlackError("no_such_subteam")
        return {"users": list(group)}

    # ---- methods: files (the files_upload_v2 flow) ------------------------------------------------------------

    def _file_api(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in record.items() if k not in ("content", "length")} | {
            "size": len(record["content"]) if record.get("content") is not None else record["length"]}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename:
            raise _SlackError("invalid_arguments", detail="filename is required")
        length = _int(args.get("length"), -1)
        if length < 0:
            raise _SlackError("invalid_arguments", detail="length is required")
        fid = self._new_id("F")
        self.files[fid] = {"id": fid, "created": int(time.time()), "name": filename, "title": filename,
                           "mimetype": "", "filetype": filename.rpartition(".")[2] if "." in filename else "",
                           "user": BOT_USER, "length": length, "alt_txt": args.get("alt_txt"),
                           "url_private": f"{self.root}/files/{fid}",
                           "permalink": f"{WORKSPACE_URL}files/{BOT_USER}/{fid}/{filename}",
                           "channels": [], "groups": [], "ims": [], "completed": False, "content": None}
        return {"upload_url": f"{self.root}/upload/{fid}", "file_id": fid}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise _SlackError("invalid_arguments", detail="files must be a JSON array of {id, title}")
        records = []
        for item in items:
            record = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if record is None or record["content"] is None:
                raise _SlackError("file_not_found")  # unknown id, or nothing was uploaded to its URL
            records.append((record, item))
        targets = _id_list(args.get("channels")) or _id_list(args.get("channel_id"))
        channels = [self._channel(c) for c in targets]
        for ch in channels:
            self._writable(ch, public_ok=True)
        for record, item in records:
            record["completed"] = True
            if item.get("title"):
                record["title"] = item["title"]
        shared = [self._file_api(r) for r, _ in records]
        for ch in channels:
            msg = Message(self._next_ts(), ch.id, str(args.get("initial_comment") or ""),
                          thread_ts=args.get("thread_ts") or None, files=copy.deepcopy(shared))
            msg.versions.append(msg.snapshot())
            ch.messages.append(msg)
            for record, _ in records:
                record["groups" if ch.is_private else "channels"].append(ch.id)
                record.setdefault("shares", []).append({"channel": ch.id, "ts": msg.ts})
        return {"files": [self._file_api(r) for r, _ in records]}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(str(args.get("file")))
        if record is None or not record["completed"]:
            raise _SlackError("file_not_found")
        return {"file": self._file_api(record), "comments": [], "response_metadata": {"next_cursor": ""}}


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string, form and JSON body (slack-sdk uses all three), decoding JSON-encoded fields."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in _JSON_FIELDS & args.keys():
        value = args[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
            except ValueError:
                pass  # left as a string: the method answers with its own format error
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else None
    form_token = args.pop("token", None)
    return args, token or (form_token if isinstance(form_token, str) else None)


def _short(args: dict[str, Any], limit: int = 120) -> str:
    text = json.dumps(args, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
