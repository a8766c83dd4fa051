"""The Web API over a Workspace, with Slack's error codes: conversations, chat, pins, bookmarks, users.

Web API method `family.name` is `api_family_name`; a method without one answers unknown_method. Implemented:
what the incident bot calls (auth.test through Bolt, conversations.create / invite / setTopic / history,
chat.postMessage / update / getPermalink, pins.add, users.info, usergroups.users.list; views in
slackfake.modals, files_upload_v2 in slackfake.files) and what the tests read back with (pins.list,
bookmarks.add, files.info).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import Any

from slackfake.blockkit import MESSAGE_BLOCK_LIMIT, find_violation
from slackfake.workspace import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER,
    TEAM_ID,
    TEAM_NAME,
    WORKSPACE_URL,
    Channel,
    Message,
    Workspace,
)

MESSAGE_TEXT_LIMIT = 40_000
TOPIC_LIMIT = 250
CHANNEL_NAME_LIMIT = 80

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class SlackError(Exception):
    """An answer {"ok": false, "error": error, **extra}."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def refusal(code: str, message: str) -> SlackError:
    """A Block Kit refusal, worded the way Slack words them."""
    return SlackError(code, errors=[message], response_metadata={"messages": [f"[ERROR] {message}"]})


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def integer(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments", detail=f"not an integer: {value!r}") from None


def _ts_key(ts: Any) -> tuple[int, int]:
    # Compare ts as (seconds, micro) integers: floats lose the last digit at this magnitude.
    sec, _, frac = str(ts).partition(".")
    try:
        return int(sec or 0), int((frac + "000000")[:6])
    except ValueError:
        raise SlackError("invalid_arguments", detail=f"bad ts {ts!r}") from None


def id_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


class WebApi(Workspace):
    """The methods below, the lookups they share, and `handler` to find one by its Web API name."""

    @property
    def root(self) -> str:
        """Where the fake is served (upload URLs point there)."""
        raise NotImplementedError

    def handler(self, method: str) -> Handler | None:
        """The implementation of Web API `method` (chat.postMessage: api_chat_postMessage), or None."""
        if not re.fullmatch(r"[A-Za-z]+(\.[A-Za-z]+)+", method):
            return None
        found: Handler | None = getattr(self, "api_" + method.replace(".", "_"), None)
        return found

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _channel(self, ref: Any, *, names: bool = False) -> Channel:
        """Resolve a channel argument; only chat.postMessage accepts names and user ids."""
        if not isinstance(ref, str) or not ref:
            raise SlackError("channel_not_found")
        ch = self.channels.get(ref)
        if ch is None and names:
            ch = self.channel_by_name(ref)
            if ch is None and ref in self.users and ref != BOT_USER:
                ch = self._dm(ref)
        if ch is None or (ch.is_private and BOT_USER not in ch.members and not names):
            raise SlackError("channel_not_found")  # private channels are invisible to non-members
        return ch

    @staticmethod
    def _writable(ch: Channel, *, public_ok: bool = False) -> None:
        if ch.is_archived:
            raise SlackError("is_archived")
        if BOT_USER not in ch.members and not (public_ok and not ch.is_private):
            raise SlackError("not_in_channel")

    @staticmethod
    def _find(ch: Channel, ts: Any) -> Message:
        for m in ch.messages:
            if m.ts == ts:
                return m
        raise SlackError("message_not_found")

    @staticmethod
    def _threads(ch: Channel) -> dict[str, list[Message]]:
        """Every thread's replies, by the ts of the message they answer, in one pass over the channel."""
        out: dict[str, list[Message]] = {}
        for r in ch.messages:
            if r.thread_ts is not None and r.thread_ts != r.ts:
                out.setdefault(r.thread_ts, []).append(r)
        return out

    @classmethod
    def _message_api(cls, ch: Channel, m: Message, *, include_metadata: bool = True,
                     threads: dict[str, list[Message]] | None = None) -> dict[str, Any]:
        out = m.to_api(include_metadata=include_metadata)
        replies = (cls._threads(ch) if threads is None else threads).get(m.ts, [])
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
                raise SlackError("msg_too_long")
            out["text"] = text
        blocks = args.get("blocks")
        if blocks is not None and (blocks != [] or keep_empty_blocks):
            if isinstance(blocks, str):
                raise SlackError("invalid_blocks_format")
            found = find_violation(blocks, limit=MESSAGE_BLOCK_LIMIT)
            if found is not None:
                raise refusal(*found)
            out["blocks"] = copy.deepcopy(blocks)
        attachments = args.get("attachments")
        if attachments:
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            out["attachments"] = copy.deepcopy(attachments)
        if args.get("metadata") is not None:
            metadata = args["metadata"]
            if (not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str)
                    or not metadata["event_type"] or not isinstance(metadata.get("event_payload"), dict)):
                raise SlackError("invalid_metadata_format")
            out["metadata"] = copy.deepcopy(metadata)
        return out

    # ---- auth, conversations -----------------------------------------------------------------------------------

    def api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": WORKSPACE_URL, "team": TEAM_NAME, "user": BOT_NAME, "team_id": TEAM_ID,
                "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def api_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise SlackError("invalid_name_required")
        if len(name) > CHANNEL_NAME_LIMIT:
            raise SlackError("invalid_name_maxlength")
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise SlackError("invalid_name_specials")
        if re.fullmatch(r"[-_]+", name):
            raise SlackError("invalid_name_punctuation")
        if self.channel_by_name(name) is not None:
            raise SlackError("name_taken")
        ch = self.add_channel(name, is_private=truthy(args.get("is_private")))
        return {"channel": ch.to_api()}

    def api_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if ch.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        self._writable(ch)
        users = id_list(args.get("users"))
        if not users:
            raise SlackError("no_user")
        if len(users) > 1000:
            raise SlackError("too_many_users")
        if BOT_USER in users:
            raise SlackError("cant_invite_self")
        unknown = [u for u in users if u not in self.users]
        if unknown:
            raise SlackError("user_not_found",
                             errors=[{"user": u, "ok": False, "error": "user_not_found"} for u in unknown])
        new = [u for u in users if u not in ch.members]
        if not new:
            raise SlackError("already_in_channel")
        ch.members.update(new)
        return {"channel": ch.to_api()}

    def api_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        return {"members": sorted(ch.members), "response_metadata": {"next_cursor": ""}}

    def api_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        self._writable(ch)
        topic = args.get("topic")
        if topic is None:
            raise SlackError("invalid_arguments", detail="topic is required")
        topic = str(topic)
        if len(topic) > TOPIC_LIMIT:
            raise SlackError("too_long")
        ch.topic = topic
        return {"channel": ch.to_api()}

    def api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        if BOT_USER not in ch.members:
            raise SlackError("not_in_channel")
        limit = max(1, min(integer(args.get("limit"), 100), 999))
        inclusive = truthy(args.get("inclusive"))
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
        include_metadata = truthy(args.get("include_all_metadata"))
        threads = self._threads(ch)
        return {"messages": [self._message_api(ch, m, include_metadata=include_metadata, threads=threads)
                             for m in page],
                "has_more": more, "pin_count": len(ch.pins),
                "response_metadata": {"next_cursor": f"next_{offset + limit}" if more else ""}}

    # ---- chat, pins, bookmarks ---------------------------------------------------------------------------------

    def api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"), names=True)
        self._writable(ch, public_ok=True)  # chat:write.public lets the bot post to public channels
        content = self._content(args)
        if not content.get("text") and not content.get("blocks") and not content.get("attachments"):
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts") or None
        msg = Message(self._next_ts(), ch.id, content.get("text", ""), content.get("blocks", []),
                      content.get("metadata"), thread_ts=str(thread_ts) if thread_ts else None,
                      attachments=content.get("attachments", []))
        ch.messages.append(msg)
        return {"channel": ch.id, "ts": msg.ts, "message": msg.to_api()}

    def api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))  # ids only: chat.update does not resolve names
        if ch.is_archived:
            raise SlackError("is_archived")
        msg = self._find(ch, args.get("ts"))
        if msg.user != BOT_USER:
            raise SlackError("cant_update_message")
        content = self._content(args, keep_empty_blocks=True)
        if not any(k in content for k in ("text", "blocks", "attachments", "metadata")):
            raise SlackError("no_text")
        # Fields left out keep their previous value, as on Slack; blocks=[] removes the blocks.
        msg.text = content.get("text", msg.text)
        msg.blocks = content.get("blocks", msg.blocks)
        msg.attachments = content.get("attachments", msg.attachments)
        msg.metadata = content.get("metadata", msg.metadata)
        if not msg.text and not msg.blocks and not msg.attachments and not msg.files:
            raise SlackError("no_text")
        msg.updated_count += 1
        msg.versions.append(msg.snapshot())
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        msg = self._find(ch, args.get("message_ts"))
        link = f"{WORKSPACE_URL}archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    def api_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        self._writable(ch)
        msg = self._find(ch, args.get("timestamp"))
        if msg.ts in ch.pins:
            raise SlackError("already_pinned")
        ch.pins.append(msg.ts)
        return {}

    def api_pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel"))
        items = [{"type": "message", "channel": ch.id, "created": int(time.time()), "created_by": BOT_USER,
                  "message": self._message_api(ch, self._find(ch, ts))} for ts in reversed(ch.pins)]
        return {"items": items}

    def api_bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args.get("channel_id"))
        if ch.is_archived:
            raise SlackError("is_archived")
        title, kind, link = args.get("title"), args.get("type"), args.get("link")
        if not isinstance(title, str) or not title:
            raise SlackError("invalid_arguments", detail="title is required")
        if kind != "link":
            raise SlackError("invalid_arguments", detail="type must be link")
        if not isinstance(link, str) or not re.match(r"https?://", link):
            raise SlackError("invalid_link")
        bookmark = {"id": self._new_id("Bk"), "channel_id": ch.id, "title": title, "link": link, "type": "link",
                    "emoji": args.get("emoji"), "icon_url": None, "entity_id": args.get("entity_id"),
                    "date_created": int(time.time()), "date_updated": 0, "rank": f"{len(ch.bookmarks):04d}",
                    "last_updated_by_user_id": BOT_USER, "last_updated_by_team_id": TEAM_ID, "shortcut_id": None,
                    "app_id": APP_ID}
        ch.bookmarks.append(bookmark)
        return {"bookmark": bookmark}

    # ---- users, usergroups -------------------------------------------------------------------------------------

    def api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup")))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group)}
