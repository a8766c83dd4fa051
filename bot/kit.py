"""Block Kit primitives shared by every message and modal: text objects, sections, buttons, mentions, times."""

from __future__ import annotations

from typing import Any

from bot import limits
from bot.mrkdwn import escape, truncate
from bot.timefmt import utc

Block = dict[str, Any]


def text_obj(text: str, *, plain: bool = False) -> dict[str, Any]:
    if plain:
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text}


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": text_obj(truncate(text, limits.SECTION_TEXT)), **extra}


def header(text: str) -> Block:
    return {"type": "header", "text": text_obj(truncate(text, limits.HEADER_TEXT), plain=True)}


def button(label: str, action_id: str, value: str, style: str | None = None,
           confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": text_obj(truncate(label, limits.BUTTON_TEXT), plain=True),
                         "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def when(ms: int) -> str:
    """A timestamp every reader sees in their own time zone, with a UTC fallback."""
    secs = ms // 1000
    return f"<!date^{secs}^{{date_short_pretty}} {{time}}|{utc(secs * 1000)}>"


def user(uid: str) -> str:
    return f"<@{uid}>" if uid else "_unassigned_"


def markdown_to_mrkdwn(text: str) -> str:
    """Playbook detail is Markdown; Slack wants fences without a language and single-star bold."""
    out = []
    for line in escape(text).splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            out.append("```")
        else:
            out.append(line.replace("**", "*"))
    return "\n".join(out)


def chunks(text: str, limit: int = limits.SECTION_CHUNK) -> list[str]:
    """Split on line boundaries, keeping code fences balanced in each part."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    in_fence = False
    for line in text.splitlines():
        if size + len(line) + 1 > limit and current:
            if in_fence:
                current.append("```")
            parts.append("\n".join(current))
            current, size = (["```"], 4) if in_fence else ([], 0)
        current.append(line)
        size += len(line) + 1
        if line.strip() == "```":
            in_fence = not in_fence
    if current:
        parts.append("\n".join(current))
    return parts


def wrap(text: str, limit: int = limits.SECTION_LINE) -> str:
    """Break lines longer than a section holds, at a space if there is one, never inside `&amp;`."""
    out = []
    for line in text.splitlines():
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            if cut <= 0:
                amp = line.rfind("&", limit - 5, limit)
                cut = amp if amp > 0 else limit
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        out.append(line)
    return "\n".join(out)


def context(text: str) -> Block:
    return {"type": "context", "elements": [text_obj(text)]}
