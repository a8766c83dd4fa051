"""The timeline as people read it: one line per event, and the `/incident timeline` view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import kit, limits
from bot.durations import format_duration, in_words
from bot.incident import Event, Incident, pagerduty_name
from bot.kit import Block, chunks, context, header, section, when
from bot.mrkdwn import escape as escape_mrkdwn
from bot.mrkdwn import truncate
from bot.playbook import Playbook


@dataclass(frozen=True)
class Style:
    """How a line shows people, channels, links and typed text: mrkdwn for Slack, plain for a document."""

    user: Callable[[str], str]
    channel: Callable[[str], str]
    link: Callable[[str, str], str]  # (url, label)
    typed: Callable[[str], str]  # anything a person typed


MRKDWN = Style(user=kit.user, channel=lambda cid: f"<#{escape_mrkdwn(cid)}>",
               link=lambda url, label: f"<{url}|{label}>", typed=escape_mrkdwn)


def plain(names: dict[str, str]) -> Style:
    """Plain text; `names` gives display names for user and channel ids (an id stands for itself)."""
    return Style(user=lambda uid: "@" + names.get(uid, uid) if uid else "_unassigned_",
                 channel=lambda cid: "#" + names.get(cid, cid), link=lambda url, label: f"{label} ({url})",
                 typed=lambda text: text)


def describe(event: Event, book: Playbook | None, style: Style = MRKDWN) -> str:
    """One timeline line; every typed value goes through `style.typed`."""
    d = event.data
    escape, user = style.typed, style.user

    def step_text() -> str:
        try:
            assert book is not None
            return escape(book.phases[int(d["phase"])].steps[int(d["step"])].text)
        except (AssertionError, KeyError, IndexError, ValueError):
            return escape(str(d.get("text", "a step")))

    def phase_label(key: str = "phase") -> str:
        try:
            assert book is not None
            return book.phases[int(d[key])].title
        except (AssertionError, KeyError, IndexError, ValueError):
            return "a phase"

    def alert() -> str:
        name, summary = escape(str(d.get("name", "alert"))), escape(str(d.get("summary", "")))
        url = str(d.get("url", ""))
        return name + (f" — {summary}" if summary else "") + (f" {style.link(url, 'source')}" if url else "")

    who = user(event.actor) if event.actor.startswith(("U", "W")) else escape(event.actor or "the bot")
    if (name := pagerduty_name(event.actor)) is not None:
        who = f"{escape(name)} (PagerDuty)"
    role = escape(str(d.get("role", "")))
    match event.type:
        case "declared":
            severity, title = escape(str(d.get("severity", ""))), escape(str(d.get("title", "")))
            if d.get("source") == "alert":
                return f"An alert opened the incident ({severity}): {title}"
            from_alert = " from an alert" if d.get("source") == "suggested" else ""
            return f"{who} declared the incident{from_alert} ({severity}): {title}"
        case "alert_firing":
            return f"🔔 Alert firing: {alert()}"
        case "alert_resolved":
            return f"Alert resolved: {alert()}"
        case "step_done":
            return f"{who} completed “{step_text()}”"
        case "step_undone":
            return f"{who} reopened “{step_text()}”"
        case "steps_skipped":
            return f"{who} skipped {len(d.get('steps', []))} open step(s) of {phase_label()}"
        case "phase_completed":
            return f"{who} completed the {phase_label()} phase"
        case "severity_changed":
            return f"{who} changed severity {escape(str(d.get('from')))} → {escape(str(d.get('to')))}"
        case "commander_changed":
            return f"{who} made {user(str(d.get('to', '')))} incident commander"
        case "note":
            return f"{who} noted: {escape(str(d.get('text', '')))}"
        case "message_added":
            link = str(d.get("permalink", ""))
            quoted = escape(truncate(str(d.get("text", "")), 300))
            return f"{who} added a message by {user(str(d.get('author', '')))}: “{quoted}” {style.link(link, 'view')}"
        case "channel_created":
            return f"Incident channel {style.channel(str(d.get('channel', '')))} created"
        case "declare_failed":
            stage, error = escape(str(d.get("stage", ""))), escape(str(d.get("error", "")))
            return f"⚠️ Setting up the incident failed at {stage}: {error}"
        case "escalated":
            late = " (late)" if d.get("late") else ""
            return f"Escalation level {int(d.get('level', 0)) + 1}{late}: {escape(str(d.get('message', '')))}"
        case "escalation_acknowledged":
            return f"{who} acknowledged escalation level {int(d.get('level', 0)) + 1}"
        case "page_requested":
            message = f": {escape(str(d['message']))}" if d.get("message") else ""
            return f"{who} paged {role} through PagerDuty{message}"
        case "pagerduty_sent":
            return {"trigger": f"PagerDuty paged {role}",
                    "acknowledge": f"PagerDuty was told {role}'s page is acknowledged",
                    "resolve": f"PagerDuty resolved {role}'s page"}.get(str(d.get("action")), f"PagerDuty: {role}")
        case "pagerduty_failed":
            return f"⚠️ PagerDuty did not take the {escape(str(d.get('action')))} for {role}: " \
                   f"{escape(str(d.get('error', '')))}"
        case "pagerduty_acknowledged":
            return f"{escape(str(d.get('name', '')))} acknowledged the page for {role} in PagerDuty"
        case "pagerduty_resolved":
            return f"{escape(str(d.get('name', '')))} resolved the page for {role} in PagerDuty"
        case "phase_overdue":
            return f"{phase_label()} ran past its target window"
        case "target_missed":
            target, after = escape(str(d.get("target", "a"))), in_words(int(d.get("after", 0)))
            roles = ", ".join(escape(str(r)) for r in d.get("notify", []))
            return f"The {target} target ({after}) passed unmet; reminded {roles or 'the channel'}"
        case "status_update":
            kind = f"{escape(str(d['kind']))} " if d.get("kind") else ""
            return f"{who} posted the {kind}status update: {escape(truncate(str(d.get('text', '')), 300))}"
        case "rca_posted":
            return f"RCA draft posted ({escape(str(d.get('filename', '')))})"
        case "rca_overdue":
            return "The RCA was not reviewed in time; the commander was reminded"
        case "rca_reviewed":
            return f"{who} marked the RCA reviewed"
        case "resolved":
            return f"{who} resolved the incident. Cause: {escape(str(d.get('cause', '')))}"
        case _:
            return f"{who}: {escape(event.type)}"


def timeline_blocks(incident: Incident, book: Playbook | None, events: list[Event],
                    *, limit_chars: int = 11000) -> list[Block]:
    """Newest events that fit in one message; older ones are summarised as a count."""
    lines = []
    for ev in events:
        offset = format_duration((ev.at - incident.declared_at) / 1000)
        lines.append(f"`T+{offset}` {when(ev.at)} · {describe(ev, book)}")
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) > limit_chars or len(kept) >= 200:
            break
        kept.append(line)
        size += len(line) + 1
    kept.reverse()
    blocks: list[Block] = [header(f"{incident.name} timeline ({len(events)} events)")]
    if len(kept) < len(lines):
        blocks.append(context(f"Showing the latest {len(kept)} of {len(lines)} events."))
    blocks += [section(part) for part in chunks("\n".join(kept))][:limits.TEXT_SECTIONS]
    return blocks

