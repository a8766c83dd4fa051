"""Escaping for Slack mrkdwn: only &, < and > are control characters."""

from __future__ import annotations

import re


def escape(text: str) -> str:
    """Neutralise anything a person typed: `<!channel>` becomes inert text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(target: str) -> str:
    """Mention a roster target: users as <@U…>, user groups as <!subteam^S…>."""
    if target.startswith("S"):
        return f"<!subteam^{target}>"
    return f"<@{target}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
# Markup the bot itself writes: mentions, channel links, dates and links. Typed text never has a raw `<`.
_MARKUP = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")


def unescape(text: str) -> str:
    """The inverse of escape(), in one pass so `&amp;lt;` comes back as `&lt;`."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def to_plain(text: str, people: dict[str, str] | None = None) -> str:
    """mrkdwn the bot wrote, as plain text for a document: mentions become @names (from `people`, user and
    channel ids to names), links `label (url)`."""
    names = people or {}

    def markup(m: re.Match[str]) -> str:
        sigil, target, label = m.group(1) or "", m.group(2), m.group(3)
        if sigil == "@":
            return "@" + names.get(target, label or target)
        if sigil == "#":
            return "#" + names.get(target, label or target)
        if sigil == "!":
            if target.startswith("subteam^"):
                return "@" + (label or target.removeprefix("subteam^"))
            return label or "@" + target  # dates carry their fallback text as the label
        return f"{label} ({target})" if label else target

    return unescape(_MARKUP.sub(markup, text))
