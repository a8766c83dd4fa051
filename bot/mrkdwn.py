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


def unescape(text: str) -> str:
    """The inverse of escape(), in one pass so `&amp;lt;` comes back as `&lt;`."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


# Slack's own markup in a slash command's text: <@U…|name>, <#C…|name>, <!subteam^S…|@team>, <!here>, <url|label>.
_SLACK_MARKUP = re.compile(r"<([^<>]*)>")


def _as_typed(m: re.Match[str]) -> str:
    target, _, label = m.group(1).partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return label or "@" + target[1:].split("^")[0]
    return target  # a link: its address


def typed(text: str) -> str:
    """What a person typed, from the text Slack sends with a slash command (entities escaped, mentions and links
    wrapped in <…>): so a note reads "p99 > 2s & rising @bob", once, wherever it is shown (escaped again there)."""
    return unescape(_SLACK_MARKUP.sub(_as_typed, text))
