"""A local fake of the Slack Web API on loopback, enforcing Slack's documented limits.

The bot under test reaches it through SLACK_API_URL; tests assert on the calls it received and on
the state (channels, messages, pins) those calls left behind.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")
BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "input", "rich_text", "image", "markdown"}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    ts: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    user: str = "U_BOT"
    thread_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    topic: str = ""
    members: set[str] = field(default_factory=set)
    pins: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _text_object(obj: Any, where: str, *, plain_only: bool = False, limit: int | None = None) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return f"{where}: must be a text object"
    if plain_only and obj["type"] != "plain_text":
        return f"{where}: must be plain_text"
    if not isinstance(obj.get("text"), str):
        return f"{where}: text must be a string"
    if limit is not None and len(obj["text"]) > limit:
        return f"{where}: text is {len(obj['text'])} characters, more than {limit}"
    return None


def _element(el: dict[str, Any], where: str, action_ids: set[str]) -> str | None:
    aid = el.get("action_id")
    if aid is not None:
        if len(aid) > 255:
            return f"{where}: action_id longer than 255"
        if aid in action_ids:
            return f"{where}: duplicate action_id {aid!r}"
        action_ids.add(aid)
    kind = el.get("type")
    if kind == "button":
        problem = _text_object(el.get("text"), f"{where}.text", plain_only=True, limit=75)
        if problem:
            return problem
        if len(el.get("value", "")) > 2000:
            return f"{where}: button value longer than 2000"
        if len(el.get("url", "")) > 3000:
            return f"{where}: button url longer than 3000"
        confirm = el.get("confirm")
        if confirm is not None:
            for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
                problem = _text_object(confirm.get(key), f"{where}.confirm.{key}",
                                       plain_only=key != "text", limit=limit)
                if problem:
                    return problem
    elif kind in ("static_select", "overflow", "checkboxes", "radio_buttons"):
        options = el.get("options", [])
        cap = {"static_select": 100, "overflow": 5, "checkboxes": 10, "radio_buttons": 10}[kind]
        if not options or len(options) > cap:
            return f"{where}: {kind} needs 1 to {cap} options, has {len(options)}"
        for i, opt in enumerate(options):
            problem = _text_object(opt.get("text"), f"{where}.options[{i}]", limit=75)
            if problem:
                return problem
            if len(opt.get("value", "")) > 150:
                return f"{where}.options[{i}]: value longer than 150"
    return None


def validate_blocks(blocks: Any, *, limit: int = 50) -> str | None:
    """The first way `blocks` breaks Slack's documented limits, or None."""
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > limit:
        return f"{len(blocks)} blocks, more than {limit}"
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            return f"{where}: unknown block type {kind!r}"
        bid = block.get("block_id")
        if bid is not None:
            if len(bid) > 255:
                return f"{where}: block_id longer than 255"
            if bid in block_ids:
                return f"{where}: duplicate block_id {bid!r}"
            block_ids.add(bid)
        problem: str | None = None
        if kind == "section":
            if "text" not in block and "fields" not in block:
                return f"{where}: section needs text or fields"
            if "text" in block:
                problem = _text_object(block["text"], f"{where}.text", limit=3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                return f"{where}: more than 10 fields"
            for j, f in enumerate(fields):
                problem = problem or _text_object(f, f"{where}.fields[{j}]", limit=2000)
            if "accessory" in block:
                problem = problem or _element(block["accessory"], f"{where}.accessory", action_ids)
        elif kind == "header":
            problem = _text_object(block.get("text"), f"{where}.text", plain_only=True, limit=150)
        elif kind == "context":
            elements = block.get("elements", [])
            if not elements or len(elements) > 10:
                return f"{where}: context needs 1 to 10 elements"
            for j, el in enumerate(elements):
                if el.get("type") in ("plain_text", "mrkdwn"):
                    problem = problem or _text_object(el, f"{where}.elements[{j}]")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not elements or len(elements) > 25:
                return f"{where}: actions needs 1 to 25 elements"
            for j, el in enumerate(elements):
                problem = problem or _element(el, f"{where}.elements[{j}]", action_ids)
        elif kind == "input":
            problem = _text_object(block.get("label"), f"{where}.label", plain_only=True, limit=2000)
            if "element" not in block:
                problem = problem or f"{where}: input needs an element"
            else:
                problem = problem or _element(block["element"], f"{where}.element", set())
        if problem:
            return problem
    return None


def _validate_view(view: Any) -> str | None:
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "view.type must be modal"
    for key in ("title", "submit", "close"):
        if key in view:
            problem = _text_object(view[key], f"view.{key}", plain_only=True, limit=24)
            if problem:
                return problem
    if "title" not in view:
        return "view.title is required"
    if len(view.get("callback_id", "")) > 255:
        return "view.callback_id longer than 255"
    if len(view.get("private_metadata", "")) > 3000:
        return "view.private_metadata longer than 3000"
    has_input = any(b.get("type") == "input" for b in view.get("blocks", []))
    if has_input and "submit" not in view:
        return "a view with inputs needs a submit button"
    return validate_blocks(view.get("blocks", []), limit=100)


class FakeSlack:
    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.response_posts: list[tuple[str, dict[str, Any]]] = []
        self._failures: dict[str, list[str]] = {}
        self._limits: dict[str, list[int]] = {}
        self._used_triggers: set[str] = set()
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base = ""
        self.add_user("U_BOT", "incident-bot")

    # ------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"{self._base}/api/"

    def add_user(self, uid: str, name: str) -> None:
        self.users[uid] = {"id": uid, "name": name, "real_name": name.title(), "tz": "UTC",
                           "profile": {"display_name": name}}

    def add_channel(self, name: str, *, is_private: bool = False, members: set[str] | None = None) -> Channel:
        cid = f"C{next(self._ids):08d}"
        ch = Channel(cid, name, is_private, members=set(members or {"U_BOT"}))
        self.channels[cid] = ch
        return ch

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        self._failures.setdefault(method, []).extend([error] * times)

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._limits.setdefault(method, []).extend([retry_after] * times)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def message(self, channel: str, ts: str) -> Message:
        ch = self._channel(channel)
        for m in ch.messages:
            if m.ts == ts:
                return m
        raise KeyError(f"no message {ts} in {channel}")

    def response_url(self, key: str = "") -> str:
        return f"{self._base}/response/{key or uuid.uuid4().hex}"

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
        except TimeoutError:
            seen = sorted({c.method for c in self.calls})
            raise AssertionError(f"expected {count} call(s) to {method}, got {len(matching())}; "
                                 f"methods received: {seen}") from None
        return matching()

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # ------------------------------------------------------------ HTTP

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _response(self, request: web.Request) -> web.Response:
        self.response_posts.append((request.match_info["key"], await request.json()))
        await self._notify()
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404)
        self.files[file_id]["content"] = await request.read()
        return web.Response(text=f"OK - {len(self.files[file_id]['content'])}")

    async def _args(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        args: dict[str, Any] = dict(request.query)
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        if raw:
            if "json" in ctype:
                args.update(json.loads(raw))
            else:
                args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        for key in JSON_FIELDS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    pass
        token = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:]
        token = token or args.pop("token", None)
        return args, token

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, token = await self._args(request)
        call = Call(method, args, token, time.monotonic())
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._limits.get(method):
            retry_after = self._limits[method].pop(0)
            self.calls.append(call)
            await self._notify()
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(retry_after)})
        try:
            if not token or not token.startswith("xoxb-"):
                raise SlackError("not_authed")
            if self._failures.get(method):
                raise SlackError(self._failures[method].pop(0))
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method")
            result: dict[str, Any] = {"ok": True, **handler(args)}
        except SlackError as e:
            result = {"ok": False, "error": e.error, **e.extra}
        call.result = result
        self.calls.append(call)
        await self._notify()
        return web.json_response(result)

    # ------------------------------------------------------------ helpers

    def _channel(self, ref: str) -> Channel:
        if ref in self.channels:
            return self.channels[ref]
        ch = self.channel_by_name(ref)
        if ch is None:
            raise SlackError("channel_not_found")
        return ch

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _check_blocks(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = args.get("blocks") or []
        problem = validate_blocks(blocks)
        if problem:
            raise SlackError("invalid_blocks", response_metadata={"messages": [problem]})
        if len(json.dumps(blocks)) > 13000 * 2 and sum(len(json.dumps(b)) for b in blocks) > 26000:
            raise SlackError("msg_blocks_too_long")
        if len(args.get("text") or "") > 40000:
            raise SlackError("msg_too_long")
        return list(blocks)

    # ------------------------------------------------------------ methods

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": "U_BOT", "bot_id": "B_BOT", "team_id": "T_TEST", "team": "Test",
                "url": "https://test.slack.com/", "user": "incident-bot"}

    def _m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name", "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not all(c.islower() or c.isdigit() or c in "-_" for c in name) or not name.isascii():
            raise SlackError("invalid_name_specials")
        if self.channel_by_name(name):
            raise SlackError("name_taken")
        ch = self.add_channel(name, is_private=str(args.get("is_private")).lower() == "true")
        return {"channel": {"id": ch.id, "name": ch.name, "is_private": ch.is_private, "created": int(time.time())}}

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        if "U_BOT" not in ch.members:
            raise SlackError("not_in_channel")
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            raise SlackError("no_user")
        for uid in users:
            if uid == "U_BOT":
                raise SlackError("cant_invite_self")
            if uid not in self.users:
                raise SlackError("user_not_found")
        if all(u in ch.members for u in users):
            raise SlackError("already_in_channel")
        ch.members.update(users)
        return {"channel": {"id": ch.id}}

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        if "U_BOT" not in ch.members:
            raise SlackError("not_in_channel")
        topic = args.get("topic", "")
        if len(topic) > 250:
            raise SlackError("too_long")
        ch.topic = topic
        return {"channel": {"id": ch.id, "topic": {"value": topic}}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        oldest = float(args.get("oldest") or 0)
        msgs = [m for m in reversed(ch.messages) if float(m.ts) >= oldest]
        limit = int(args.get("limit") or 100)
        include_meta = str(args.get("include_all_metadata")).lower() in ("true", "1")
        out = []
        for m in msgs[:limit]:
            d: dict[str, Any] = {"ts": m.ts, "text": m.text, "user": m.user, "blocks": m.blocks}
            if include_meta and m.metadata:
                d["metadata"] = m.metadata
            out.append(d)
        return {"messages": out, "has_more": len(msgs) > limit}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        return {"channel": {"id": ch.id, "name": ch.name, "is_private": ch.is_private,
                            "topic": {"value": ch.topic}}}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = str(args.get("channel", ""))
        if ref in self.users:  # a direct message to a user
            ch = self.channels.get("D" + ref) or Channel("D" + ref, "dm-" + ref, True, members={"U_BOT", ref})
            self.channels[ch.id] = ch
        else:
            ch = self._channel(ref)
        if ch.is_private and "U_BOT" not in ch.members:
            raise SlackError("not_in_channel")
        blocks = self._check_blocks(args)
        if not args.get("text") and not blocks:
            raise SlackError("no_text")
        m = Message(self._new_ts(), ch.id, args.get("text", ""), blocks, args.get("metadata"),
                    thread_ts=args.get("thread_ts"))
        ch.messages.append(m)
        return {"channel": ch.id, "ts": m.ts, "message": {"ts": m.ts, "text": m.text, "blocks": m.blocks}}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._channel(args.get("channel", ""))
        self._check_blocks(args)
        return {"message_ts": self._new_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        try:
            m = self.message(ch.id, args.get("ts", ""))
        except KeyError:
            raise SlackError("message_not_found") from None
        if m.user != "U_BOT":
            raise SlackError("cant_update_message")
        blocks = self._check_blocks(args)
        m.versions.append({"text": m.text, "blocks": m.blocks})
        m.text = args.get("text", m.text)
        m.blocks = blocks
        if args.get("metadata"):
            m.metadata = args["metadata"]
        return {"channel": ch.id, "ts": m.ts, "text": m.text}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        ts = str(args.get("message_ts", ""))
        return {"channel": ch.id, "permalink": f"https://test.slack.com/archives/{ch.id}/p{ts.replace('.', '')}"}

    def _m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel", ""))
        ts = str(args.get("timestamp", ""))
        try:
            self.message(ch.id, ts)
        except KeyError:
            raise SlackError("message_not_found") from None
        if ts in ch.pins:
            raise SlackError("already_pinned")
        ch.pins.append(ts)
        return {}

    def _m_bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        self._channel(args.get("channel_id", ""))
        return {"bookmark": {"id": f"Bk{next(self._ids)}", "title": args.get("title"), "link": args.get("link")}}

    def _open_view(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id", ""))
        if not trigger.startswith("trig") or trigger in self._used_triggers:
            raise SlackError("expired_trigger_id")
        self._used_triggers.add(trigger)
        view = args.get("view")
        problem = _validate_view(view)
        if problem:
            raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
        vid = f"V{next(self._ids):08d}"
        stored = {**view, "id": vid}
        self.views[vid] = stored
        return {"view": stored}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_view(args)

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_view(args)

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        vid = args.get("view_id", "")
        if vid not in self.views:
            raise SlackError("not_found")
        problem = _validate_view(args.get("view"))
        if problem:
            raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
        self.views[vid] = {**args["view"], "id": vid}
        return {"view": self.views[vid]}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = args.get("user", "")
        if uid not in self.users:
            raise SlackError("user_not_found")
        return {"user": self.users[uid]}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        gid = args.get("usergroup", "")
        if gid not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[gid])}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not args.get("length"):
            raise SlackError("invalid_arguments")
        fid = f"F{next(self._ids):08d}"
        self.files[fid] = {"id": fid, "name": args["filename"], "length": int(args["length"])}
        return {"upload_url": f"{self._base}/upload/{fid}", "file_id": fid}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files") or []
        shared = []
        for f in files:
            if f.get("id") not in self.files or "content" not in self.files[f["id"]]:
                raise SlackError("file_not_found")
            self.files[f["id"]]["title"] = f.get("title")
            shared.append(self.files[f["id"]])
        channel = args.get("channel_id")
        if channel:
            ch = self._channel(channel)
            ch.messages.append(Message(self._new_ts(), ch.id, args.get("initial_comment", ""), [],
                                       files=[{"id": s["id"], "title": s.get("title"), "name": s["name"]}
                                              for s in shared]))
        return {"files": [{"id": s["id"], "title": s.get("title"), "name": s["name"]} for s in shared]}
