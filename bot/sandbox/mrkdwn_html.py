"""Slack mrkdwn as HTML (and as plain text, for accessible names): bold, italic, strike, code, code blocks,
quotes, links, mentions and dates, the way a Slack client shows them.

Everything is escaped: the text is untrusted (people typed it, or the app put it there). Control sequences
(`<…>`) and code are cut out first and rendered on their own; the rest is unescaped from Slack's three
entities, HTML-escaped, then formatted; only http(s) and mailto links become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.mrkdwn import unescape

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_SPECIAL = re.compile(r"<([^<>\n]*)>")
_CODE = re.compile(r"`([^`\n]+)`")
# Slack's rule for *bold*, _italic_ and ~strike~: the markers sit at word edges around non-blank text.
_STYLES = [(re.compile(rf"(?<![\w{m}]){m}(?!\s)([^{m}\n]+?)(?<!\s){m}(?![\w{m}])"), tag)
           for m, tag in ((r"\*", "strong"), ("_", "em"), ("~", "del"))]
# Placeholders for what was cut out; these private-use characters are removed from the input first.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_DATE_TOKEN = re.compile(r"\{(\w+)\}")


@dataclass
class Names:
    """What ids show as: people and user groups by name, channels by name with a link to open them."""

    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    channel_href: Callable[[str], str] = lambda cid: "#"
    now: Callable[[], float] = lambda: datetime.now(UTC).timestamp()

    def user(self, uid: str) -> str:
        return self.users.get(uid, uid)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _day(when: datetime, now: datetime, fallback: str) -> str:
    delta = (when.date() - now.date()).days
    return {0: "Today", -1: "Yesterday", 1: "Tomorrow"}.get(delta, fallback)


def _date(seconds: int, fmt: str, now: float) -> str:
    """Slack's `<!date^…^format|…>` tokens, in UTC (the sandbox shows every time in UTC)."""
    when, today = datetime.fromtimestamp(seconds, UTC), datetime.fromtimestamp(now, UTC)
    plain = {
        "date_num": when.strftime("%Y-%m-%d"), "date_slash": when.strftime("%m/%d/%Y"),
        "date": f"{when:%B} {when.day}, {when.year}", "date_short": f"{when:%b} {when.day}, {when.year}",
        "date_long": f"{when:%A}, {when:%B} {when.day}, {when.year}",
        "time": when.strftime("%H:%M"), "time_secs": when.strftime("%H:%M:%S"),
    }
    for name in ("date", "date_short", "date_long"):
        plain[f"{name}_pretty"] = _day(when, today, plain[name])
    minutes = round((now - seconds) / 60)
    plain["ago"] = "just now" if minutes == 0 else (f"{minutes} minutes ago" if minutes > 0
                                                     else f"in {-minutes} minutes")
    return _DATE_TOKEN.sub(lambda m: plain.get(m.group(1), m.group(0)), fmt) + " UTC"


class _Renderer:
    def __init__(self, names: Names, *, plain: bool) -> None:
        self.names = names
        self.plain = plain
        self.slots: list[str] = []

    def slot(self, rendered: str) -> str:
        self.slots.append(rendered)
        return f"{_OPEN}{len(self.slots) - 1}{_CLOSE}"

    def wrap(self, text: str, tag: str, attrs: str = "") -> str:
        return text if self.plain else f"<{tag}{attrs}>{text}</{tag}>"

    def text(self, raw: str) -> str:
        """Unescaped from Slack's entities, then escaped for HTML (or left as is for plain text)."""
        value = unescape(raw)
        return value if self.plain else html.escape(value, quote=False)

    def special(self, body: str) -> str:
        """One `<…>` control sequence: a link, a mention, a date."""
        target, _, label = body.partition("|")
        if target.startswith(("@U", "@W")):
            return self.wrap(self.text("@" + self.names.user(target[1:])), "span", ' class="mention"')
        if target.startswith("!subteam^"):
            sid = target.removeprefix("!subteam^")
            name = label.lstrip("@") or self.names.groups.get(sid, sid)
            return self.wrap(self.text("@" + name), "span", ' class="mention"')
        if target in ("!here", "!channel", "!everyone"):
            return self.wrap(self.text("@" + target[1:]), "span", ' class="mention"')
        if target.startswith("#C") or target.startswith("#G"):
            cid = target[1:]
            name = "#" + (self.names.channels.get(cid) or label or cid)
            return self.wrap(self.text(name), "a", f' class="channel" href="{_esc(self.names.channel_href(cid))}"')
        if target.startswith("!date^"):
            parts = target.split("^")
            try:
                shown = _date(int(parts[1]), parts[2] if len(parts) > 2 else "{date_num} {time}", self.names.now())
            except (ValueError, OverflowError, OSError):
                shown = unescape(label)
            return self.wrap(self.text(shown), "time")
        url = unescape(target)
        if _SAFE_URL.match(url):
            shown = self.text(label or target)
            return shown if self.plain else \
                f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">{shown}</a>'
        return self.text(f"<{body}>")  # not a control sequence Slack knows: shown as typed

    def inline(self, raw: str) -> str:
        raw = _SPECIAL.sub(lambda m: self.slot(self.special(m.group(1))), raw)
        raw = _CODE.sub(lambda m: self.slot(self.wrap(self.text(m.group(1)), "code")), raw)
        out = self.text(raw)
        for pattern, tag in _STYLES:
            out = pattern.sub(lambda m, t=tag: self.wrap(m.group(1), t), out)  # type: ignore[misc]
        return out

    def lines(self, raw: str) -> str:
        """Quotes (lines starting with `>`) grouped in blockquotes; other lines joined with breaks."""
        out: list[str] = []
        quote: list[str] = []
        for line in raw.split("\n"):
            m = re.match(r"^(?:>|&gt;) ?(.*)$", line)
            if m:
                quote.append(self.inline(m.group(1)))
                continue
            if quote:
                out.append(self.wrap(("\n" if self.plain else "<br>").join(quote), "blockquote"))
                quote = []
            out.append(self.inline(line))
        if quote:
            out.append(self.wrap(("\n" if self.plain else "<br>").join(quote), "blockquote"))
        return ("\n" if self.plain else "<br>").join(out).replace("</blockquote><br>", "</blockquote>")

    def render(self, text: str) -> str:
        text = text.replace(_OPEN, "").replace(_CLOSE, "")
        pieces = []
        parts = _FENCE.split(text)
        for i, part in enumerate(parts):
            if i % 2:
                code = unescape(part.strip("\n"))
                pieces.append(code if self.plain else f"<pre><code>{html.escape(code, quote=False)}</code></pre>")
                continue
            # The line breaks around a code block are the block's own.
            part = part.removeprefix("\n") if i else part
            part = part.removesuffix("\n") if i < len(parts) - 1 else part
            if part:
                pieces.append(self.lines(part))
        out = "".join(pieces) if not self.plain else "\n".join(pieces)
        # Slots may hold slots (a code span inside a link label is cut out first), so fill until none remain.
        while _SLOT.search(out):
            out = _SLOT.sub(lambda m: self.slots[int(m.group(1))], out)
        return out


def to_html(text: str, names: Names) -> str:
    return _Renderer(names, plain=False).render(text)


def to_plain(text: str, names: Names) -> str:
    """What a screen reader should say: formatting markers dropped, ids as names, links as their labels."""
    return " ".join(_Renderer(names, plain=True).render(text).split())
