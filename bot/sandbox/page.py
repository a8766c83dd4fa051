"""The sandbox page, drawn on the server: the channel list, the open channel's messages, the message box, the
open modal, who you are acting as and the clock. `fragments` gives the parts that change, for the page's
script to swap in as they change; `page_html` the whole document for a first load."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.blockkit_html import Drawer, esc, modal_html
from bot.sandbox.emulator import Emulator
from bot.sandbox.mrkdwn_html import Names, to_html, to_plain
from slackfake.workspace import BOT_NAME, BOT_USER, Message

TITLE = "Incident bot sandbox"


def href(channel: str, user: str) -> str:
    return "/?" + urlencode({"channel": channel, "user": user})


def names_for(emu: Emulator, user: str) -> Names:
    return Names(users={uid: str(rec.get("real_name") or rec.get("name") or uid) for uid, rec in emu.users.items()},
                 groups={gid: person.handle for gid, (person, _) in emu.people.groups.items()},
                 channels={cid: ch.name or "direct message" for cid, ch in emu.channels.items()},
                 channel_href=lambda cid: href(cid, user), now=emu.clock)


def channel_label(emu: Emulator, channel: str) -> str:
    ch = emu.channels[channel]
    return f"{BOT_NAME} (direct messages)" if ch.is_im else f"#{ch.name}"


def nav_html(emu: Emulator, user: str, current: str) -> str:
    items = []
    for ch in emu.visible_channels(user):
        unread = emu.unread(user, ch.id) if ch.id != current else 0
        badge = f' <span class="badge">{unread}<span class="sr"> unread</span></span>' if unread else ""
        here = ' aria-current="page"' if ch.id == current else ""
        lock = '<span class="sr">private </span>🔒' if ch.is_private and not ch.is_im else ""
        items.append(f'<li><a href="{esc(href(ch.id, user))}"{here}>{lock}{esc(channel_label(emu, ch.id))}'
                     f"{badge}</a></li>")
    return f'<ul>{"".join(items)}</ul>'


def head_html(emu: Emulator, channel: str) -> str:
    ch = emu.channels[channel]
    topic = f'<p class="topic"><span class="label">Topic:</span> {esc(ch.topic)}</p>' if ch.topic else ""
    members = "" if ch.is_im else f'<p class="members">{len(ch.members - {BOT_USER})} members</p>'
    return f"<h1>{esc(channel_label(emu, channel))}</h1>{topic}{members}"


def _time(ts: str) -> str:
    when = datetime.fromtimestamp(float(ts), UTC)
    return f'<time datetime="{when.isoformat()}">{when:%H:%M} UTC</time>'


def _files(message: Message) -> str:
    if not message.files:
        return ""
    items = "".join(
        f'<li><a href="/files/{esc(f.get("id"))}" download="{esc(f.get("name"))}">{esc(f.get("name"))}</a> '
        f'<span class="size">{int(f.get("size") or 0):,} bytes</span></li>' for f in message.files)
    return f'<ul class="files">{items}</ul>'


def message_html(emu: Emulator, message: Message, names: Names, pinned: bool) -> str:
    prefix = "m" + message.ts.replace(".", "_")
    author = BOT_NAME if message.user == BOT_USER else names.user(message.user)
    marks = (' <span class="app">APP</span>' if message.user == BOT_USER else "") + (
        ' <span class="pin">📌 Pinned</span>' if pinned else "") + (
        ' <span class="edited">(edited)</span>' if message.updated_count else "")
    only_you = '<p class="only-you">👁 Only visible to you</p>' if message.visible_to else ""
    if message.blocks:
        body = Drawer(names, prefix).blocks(message.blocks)
    else:
        body = f'<div class="bk-text">{to_html(message.text, names)}</div>'
    shortcuts = "" if message.visible_to or not emu.manifest.message_shortcuts else (
        f'<div class="more"><button type="button" class="btn small" aria-expanded="false" '
        f'aria-controls="{prefix}-menu">More actions</button><div class="menu" id="{prefix}-menu" role="menu" hidden>'
        + "".join(f'<button type="button" role="menuitem" data-shortcut="{esc(cid)}">{esc(name)}</button>'
                  for cid, name in emu.manifest.message_shortcuts.items()) + "</div></div>")
    label = to_plain(message.text, names) or ", ".join(str(f.get("name")) for f in message.files) or author
    inner = (f'<div class="meta"><span class="author">{esc(author)}</span>{marks} {_time(message.ts)}</div>'
             f'{only_you}<div class="body">{body}</div>{_files(message)}{shortcuts}')
    digest = hashlib.blake2s(inner.encode(), digest_size=8).hexdigest()
    kind = " ephemeral" if message.visible_to else ""
    return (f'<article class="msg{kind}" aria-label="{esc(label)}" data-ts="{esc(message.ts)}" '
            f'data-hash="{digest}">{inner}</article>')


def messages_html(emu: Emulator, user: str, channel: str) -> str:
    names = names_for(emu, user)
    pins = set(emu.channels[channel].pins)
    shown = [message_html(emu, m, names, m.ts in pins) for m in emu.messages(user, channel)]
    return "".join(shown) or '<p class="empty">No messages yet. Try <code>/incident help</code>.</p>'


def modal_part(emu: Emulator, user: str) -> tuple[str, str]:
    """(a key that changes whenever the modal must be drawn again, its HTML); ("", "") with none open."""
    view = emu.modal(user)
    if view is None:
        return "", ""
    errors, values = emu.view_errors.get(view["id"], {}), emu.view_values.get(view["id"], {})
    key = f"{view['id']}:{view.get('hash')}:{json.dumps(errors, sort_keys=True)}"
    return key, modal_html(view, names_for(emu, user), errors=errors, values=values)


def clock_text(emu: Emulator, offset_ms: int) -> str:
    now = datetime.fromtimestamp(emu.clock(), UTC)
    ahead = f" · {offset_ms // 60000} min ahead" if offset_ms else ""
    return f"Sandbox time {now:%H:%M} UTC{ahead}"


def fragments(emu: Emulator, user: str, channel: str, offset_ms: int) -> dict[str, Any]:
    """The parts of the page that change; reading them marks the open channel read."""
    emu.mark_read(user, channel)
    modal_key, modal = modal_part(emu, user)
    return {"version": emu.version, "nav": nav_html(emu, user, channel), "head": head_html(emu, channel),
            "messages": messages_html(emu, user, channel), "modal_key": modal_key, "modal": modal,
            "notice": emu.notices.get(user, ""), "clock": clock_text(emu, offset_ms)}


def _people(emu: Emulator, user: str) -> str:
    options = []
    for person in emu.people.responders + [p for p in emu.people.users if p.role]:
        role = f" ({person.role})" if person.role else " (responder)"
        chosen = " selected" if person.id == user else ""
        options.append(f'<option value="{esc(person.id)}"{chosen}>{esc(person.real_name + role)}</option>')
    return "".join(options)


def page_html(emu: Emulator, user: str, channel: str, offset_ms: int) -> str:
    parts = fragments(emu, user, channel, offset_ms)
    notice = f"<p>{esc(parts['notice'])}</p>" if parts["notice"] else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE}</title><link rel="stylesheet" href="/static/page.css"><script src="/static/page.js" defer></script>
</head>
<body data-user="{esc(user)}" data-channel="{esc(channel)}" data-version="{parts['version']}"
 data-modal-key="{esc(parts['modal_key'])}">
<header class="top"><strong class="brand">Sandbox workspace</strong>
<span class="who"><label for="acting-as">Acting as</label> <select id="acting-as">{_people(emu, user)}</select></span>
<span id="clock" class="clock">{esc(parts['clock'])}</span>
<button type="button" class="btn" id="skip">Skip ahead 15 minutes</button></header>
<div class="layout">
<nav aria-label="Channels" id="channels">{parts['nav']}</nav>
<main>
<header class="channel-head" id="channel-head">{parts['head']}</header>
<section id="messages" class="messages" aria-label="Messages">{parts['messages']}</section>
<div id="notice" class="notice" role="status">{notice}</div>
<form id="composer" class="composer"><label for="message" class="sr">Message</label>
<textarea id="message" name="message" rows="2" autocomplete="off"
 placeholder="Message {esc(channel_label(emu, channel))} — try /incident help"></textarea>
<p class="hint">Enter sends · Shift+Enter for a new line · <code>/incident …</code> runs the app's command</p></form>
</main></div>
<div id="modal">{parts['modal']}</div>
</body></html>
"""
