"""Block Kit, built from state. Handlers never assemble blocks; the same state renders the same message."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bot.durations import format_duration
from bot.ids import Action, Callback, DeclareMeta, IncidentMeta, StatusMeta, StepRef
from bot.incident import RCA_REVIEWED, Event, Incident
from bot.mrkdwn import escape, truncate
from bot.playbook import PHASES, SEVERITIES, Phase, Playbook

Block = dict[str, Any]

SECTION_LIMIT = 3000


def _text(text: str, *, plain: bool = False) -> dict[str, Any]:
    if plain:
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text}


def _section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": _text(truncate(text, SECTION_LIMIT)), **extra}


def _header(text: str) -> Block:
    return {"type": "header", "text": _text(truncate(text, 150), plain=True)}


def _button(label: str, action_id: str, value: str, style: str | None = None,
            confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": _text(truncate(label, 75), plain=True),
                         "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def when(ms: int) -> str:
    """A timestamp every reader sees in their own time zone, with a UTC fallback."""
    from datetime import UTC, datetime

    secs = ms // 1000
    fallback = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{secs}^{{date_short_pretty}} {{time}}|{fallback}>"


def user(uid: str) -> str:
    return f"<@{uid}>" if uid else "_unassigned_"


def phase_name(incident: Incident, book: Playbook) -> str:
    if not incident.is_open:
        return "Resolved"
    if 0 <= incident.phase < len(book.phases):
        return book.phases[incident.phase].label
    return "—"


def channel_name_hint(incident: Incident) -> str:
    return f"<#{incident.channel_id}>" if incident.channel_id else "(channel not created)"


# ---------------------------------------------------------------- incident card

def card(incident: Incident, book: Playbook) -> tuple[str, list[Block]]:
    status = "🟢 Resolved" if not incident.is_open else "🔴 Open"
    fields = [
        f"*Severity*\n{incident.severity}",
        f"*Status*\n{status}",
        f"*Phase*\n{escape(phase_name(incident, book))}",
        f"*Commander*\n{user(incident.commander)}",
        f"*Declared by*\n{user(incident.declared_by)} {when(incident.declared_at)}",
        f"*Playbook*\n{escape(book.meta.title)} (`{book.key}`)",
    ]
    if incident.service:
        fields.append(f"*Affected service*\n{escape(incident.service)}")
    if not incident.is_open and incident.resolved_at:
        fields.append(f"*Resolved*\n{when(incident.resolved_at)} "
                      f"after {format_duration((incident.resolved_at - incident.declared_at) / 1000)}")
    if incident.rca_status == RCA_REVIEWED:
        fields.append(f"*RCA*\nReviewed by {user(incident.rca_reviewed_by)} {when(incident.rca_reviewed_at)}")
    elif incident.rca_status and incident.rca_due_at:
        fields.append(f"*RCA*\nDue {when(incident.rca_due_at)}")
    blocks: list[Block] = [
        _header(f"{incident.name} · {incident.title}"),
        {"type": "section", "fields": [_text(truncate(f, 2000)) for f in fields]},
    ]
    if incident.description:
        blocks.append(_section(f"*Description*\n{escape(incident.description)}"))
    if not incident.is_open and (incident.cause or incident.resolution):
        blocks.append(_section(f"*Cause*\n{escape(incident.cause)}\n*Resolution*\n{escape(incident.resolution)}"))
    if incident.is_open:
        blocks.append({"type": "actions", "block_id": "card", "elements": [
            _button("Post status update", Action.STATUS_UPDATE, IncidentMeta(i=incident.id).model_dump_json())]})
    blocks.append({"type": "context", "elements": [_text(
        "Commands here: `/incident note <text>` · `/incident sev P1` · `/incident commander @user` · "
        "`/incident status` · `/incident timeline` · `/incident resolve`")]})
    text = f"{incident.name} [{incident.severity}] {escape(incident.title)} — {status}"
    return text, blocks


def topic(incident: Incident, book: Playbook) -> str:
    """Channel topic: plain text, at most 250 characters."""
    state = "RESOLVED" if not incident.is_open else phase_name(incident, book)
    return truncate(f"{incident.severity} · {incident.title} · {state} · {incident.name}", 250)


def announcement(incident: Incident, book: Playbook) -> tuple[str, list[Block]]:
    text = (f"🚨 *{incident.name}* [{incident.severity}] {escape(incident.title)} — declared by "
            f"{user(incident.declared_by)} with the *{escape(book.meta.title)}* playbook. "
            f"Join {channel_name_hint(incident)}.")
    if not incident.is_open:
        text = (f"✅ *{incident.name}* [{incident.severity}] {escape(incident.title)} — resolved "
                f"after {format_duration((incident.resolved_at - incident.declared_at) / 1000)}. "
                f"{channel_name_hint(incident)}")
    return f"{incident.name} {escape(incident.title)}", [_section(text)]


# ---------------------------------------------------------------- phase checklist

def _step_line(incident: Incident, phase_index: int, index: int, text: str) -> str:
    state = incident.step(phase_index, index)
    body = escape(text)
    if state is None:
        return f"⬜ *{index + 1}.* {body}"
    if state.state == "done":
        return f"✅ *{index + 1}.* ~{body}~\n_done by {user(state.by)} {when(state.at)}_"
    return f"⏭️ *{index + 1}.* ~{body}~\n_skipped when the phase was completed by {user(state.by)}_"


def phase_message(incident: Incident, book: Playbook, phase_index: int) -> tuple[str, list[Block]]:
    phase = book.phases[phase_index]
    active = incident.is_open and incident.phase == phase_index
    blocks: list[Block] = [_header(f"Phase {phase_index + 1} of {len(PHASES)} · {phase.label}")]
    if phase.description:
        blocks.append(_section(escape(phase.description)))
    open_steps = skipped = 0
    for i, step in enumerate(phase.steps):
        state = incident.step(phase_index, i)
        if state is None:
            open_steps += 1
        elif state.state == "skipped":
            skipped += 1
        block = _section(_step_line(incident, phase_index, i, step.text), block_id=f"step:{phase_index}:{i}")
        if active:
            done = state is not None
            ref = StepRef(i=incident.id, b=incident.playbook, p=phase_index, s=i, a="undo" if done else "done")
            block["accessory"] = _button("Undo" if done else "Done", f"{Action.STEP}:{phase_index}:{i}",
                                         ref.model_dump_json(), None if done else "primary")
        blocks.append(block)
    total = len(phase.steps)
    progress = f"{total - open_steps - skipped} of {total} steps done" + (f", {skipped} skipped" if skipped else "")
    if not active:
        progress += " · phase closed" if incident.phase > phase_index or not incident.is_open else ""
    blocks.append({"type": "context", "elements": [_text(progress)]})
    elements: list[dict[str, Any]] = []
    if active:
        confirm = None
        if open_steps:
            confirm = {
                "title": _text(f"Complete {phase.title}?", plain=True),
                "text": _text(f"{open_steps} step(s) are still open. They will be recorded as skipped."),
                "confirm": _text("Skip and complete", plain=True),
                "deny": _text("Keep working", plain=True),
                "style": "danger",
            }
        label = f"Complete {phase.title}" + (" and resolve" if phase_index == len(PHASES) - 1 else "")
        elements.append(_button(label, f"{Action.COMPLETE_PHASE}:{phase_index}",
                                StepRef(i=incident.id, b=incident.playbook, p=phase_index).model_dump_json(),
                                "primary" if not open_steps else None, confirm))
    with_detail = [(i, s) for i, s in enumerate(phase.steps) if s.detail]
    if with_detail:
        elements.append({
            "type": "static_select",
            "action_id": f"{Action.DETAILS}:{phase_index}",
            "placeholder": _text("Show a step's commands and details", plain=True),
            "options": [
                {"text": _text(truncate(f"{i + 1}. {s.text}", 75), plain=True),
                 "value": StepRef(i=incident.id, b=incident.playbook, p=phase_index, s=i).model_dump_json()}
                for i, s in with_detail
            ],
        })
    if elements:
        blocks.append({"type": "actions", "block_id": f"phase:{phase_index}", "elements": elements})
    return f"{incident.name} · {phase.label}: {total - open_steps}/{total} done", blocks


def _markdown_to_mrkdwn(text: str) -> str:
    """Playbook detail is Markdown; Slack wants fences without a language and single-star bold."""
    out = []
    for line in escape(text).splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            out.append("```")
        else:
            out.append(line.replace("**", "*"))
    return "\n".join(out)


def _chunks(text: str, limit: int = 2900) -> list[str]:
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


def step_details_modal(book: Playbook, phase_index: int, step_index: int) -> dict[str, Any]:
    phase: Phase = book.phases[phase_index]
    step = phase.steps[step_index]
    blocks: list[Block] = [_section(f"*{phase.title} · step {step_index + 1}*\n{escape(step.text)}"),
                           {"type": "divider"}]
    blocks += [_section(part) for part in _chunks(_markdown_to_mrkdwn(step.detail))]
    return {"type": "modal", "callback_id": Callback.DETAILS, "title": _text("Step details", plain=True),
            "close": _text("Close", plain=True), "blocks": blocks[:100]}


# ---------------------------------------------------------------- modals

def _input(block_id: str, label: str, *, initial: str = "", multiline: bool = False, optional: bool = False,
           max_length: int = 3000, placeholder: str = "", hint: str = "") -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                               "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = _text(placeholder, plain=True)
    block = {"type": "input", "block_id": block_id, "label": _text(label, plain=True), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = _text(hint, plain=True)
    return block


def _form(callback: str, title: str, submit: str, meta: BaseModel, form: list[Block]) -> dict[str, Any]:
    """A modal that collects input; `meta` travels in private_metadata to the submit handler."""
    return {"type": "modal", "callback_id": callback, "title": _text(title, plain=True),
            "submit": _text(submit, plain=True), "close": _text("Cancel", plain=True),
            "private_metadata": meta.model_dump_json(), "blocks": form}


def declare_modal(book: Playbook, title: str, meta: DeclareMeta) -> dict[str, Any]:
    sev_options = [{"text": _text(s, plain=True), "value": s} for s in SEVERITIES]
    severity = {
        "type": "input", "block_id": "severity", "label": _text("Severity", plain=True),
        "element": {"type": "static_select", "action_id": "value", "options": sev_options,
                    "initial_option": next(o for o in sev_options if o["value"] == book.meta.severity)},
    }
    return _form(Callback.DECLARE, "Declare incident", "Declare", meta, [
        _section(f"*Playbook:* {escape(book.meta.title)}" + (f"\n{escape(book.meta.summary)}"
                                                              if book.meta.summary else "")),
        _input("title", "Title", initial=title, max_length=120,
               placeholder="e.g. Checkout API p99 latency above 2 s"),
        severity,
        _input("service", "Affected service", optional=True, max_length=100),
        _input("description", "Description", multiline=True, optional=True, max_length=2000,
               placeholder="What is happening, since when, who is affected"),
    ])


def resolve_modal(incident: Incident, meta: IncidentMeta) -> dict[str, Any]:
    return _form(Callback.RESOLVE, "Resolve incident", "Resolve", meta, [
        _section(f"Resolving *{incident.name}* · {escape(incident.title)}. Steps still open in the "
                 "current phase are recorded as skipped."),
        _input("cause", "Cause", multiline=True, max_length=2000,
               placeholder="What caused the degradation"),
        _input("resolution", "Resolution", multiline=True, max_length=2000,
               placeholder="What fixed it"),
    ])


# ---------------------------------------------------------------- help, errors, timeline

def help_text(books: dict[str, Playbook]) -> str:
    lines = ["*Declare an incident* with one of these playbooks:"]
    for key, book in sorted(books.items()):
        summary = f" — {escape(book.meta.summary)}" if book.meta.summary else ""
        lines.append(f"• `/incident {key} [title]` · *{escape(book.meta.title)}* ({book.meta.severity}){summary}")
    lines += [
        "",
        "*Inside an incident channel:*",
        "• `/incident note <text>` — add a note to the timeline",
        "• `/incident sev P0…P4` — change the severity",
        "• `/incident commander @user` — assign the incident commander",
        "• `/incident status` — post a status update to the status channel (and Statuspage)",
        "• `/incident timeline` — show the timeline (only to you)",
        "• `/incident resolve` — resolve, with cause and resolution; the RCA draft follows",
        "• `/incident rca reviewed` — mark the RCA reviewed after the review meeting",
        "• Message shortcut *Add to timeline* — put any message of the channel on the timeline",
    ]
    return "\n".join(lines)


def describe(event: Event, book: Playbook | None) -> str:
    """One timeline line in mrkdwn; every typed value escaped."""
    d = event.data

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

    who = user(event.actor) if event.actor.startswith(("U", "W")) else escape(event.actor or "the bot")
    match event.type:
        case "declared":
            severity, title = escape(str(d.get("severity", ""))), escape(str(d.get("title", "")))
            return f"{who} declared the incident ({severity}): {title}"
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
            return f"{who} added a message by {user(str(d.get('author', '')))}: “{quoted}” <{link}|view>"
        case "channel_created":
            return f"Incident channel <#{escape(str(d.get('channel', '')))}> created"
        case "declare_failed":
            stage, error = escape(str(d.get("stage", ""))), escape(str(d.get("error", "")))
            return f"⚠️ Setting up the incident failed at {stage}: {error}"
        case "escalated":
            late = " (late)" if d.get("late") else ""
            return f"Escalation level {int(d.get('level', 0)) + 1}{late}: {escape(str(d.get('message', '')))}"
        case "escalation_acknowledged":
            return f"{who} acknowledged escalation level {int(d.get('level', 0)) + 1}"
        case "phase_overdue":
            return f"{phase_label()} ran past its target window"
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
    blocks: list[Block] = [_header(f"{incident.name} timeline ({len(events)} events)")]
    if len(kept) < len(lines):
        blocks.append({"type": "context", "elements": [_text(
            f"Showing the latest {len(kept)} of {len(lines)} events.")]})
    blocks += [_section(part) for part in _chunks("\n".join(kept))][:45]
    return blocks


def error_blocks(message: str) -> list[Block]:
    return [_section(f"⚠️ {message}")]


# ---------------------------------------------------------------- escalation

def escalation_ping(incident: Incident, book: Playbook, level: int, targets: list[str], unmapped: list[str],
                    now_ms: int, late_ms: int) -> tuple[str, list[Block]]:
    from bot.ids import EscalationRef
    from bot.mrkdwn import mention

    esc = book.meta.escalation[level]
    who = " ".join([mention(t) for t in targets] + [f"*{escape(r)}* (no roster entry)" for r in unmapped])
    open_for = format_duration((now_ms - incident.declared_at) / 1000)
    late = f"\n_Sent {format_duration(late_ms / 1000)} late: the bot was not running at the due time._" \
        if late_ms else ""
    text = (f"🚨 *Escalation {level + 1}/{len(book.meta.escalation)}: {escape(esc.message)}*\n{who}\n"
            f"*{incident.name}* · {escape(incident.title)} · *{incident.severity}* · phase "
            f"{escape(phase_name(incident, book))} · open for {open_for}{late}")
    ref = EscalationRef(i=incident.id, level=level)
    return (f"Escalation {level + 1}: {escape(esc.message)} — {incident.name}", [
        _section(text),
        {"type": "actions", "block_id": f"esc:{level}", "elements": [
            _button("Acknowledge", f"{Action.ACK_ESCALATION}:{level}", ref.model_dump_json(), "primary")]},
    ])


def escalation_acknowledged(original: list[Block], by: str, at_ms: int) -> list[Block]:
    """The ping as posted, its button replaced by who picked it up."""
    kept = [b for b in original if b.get("type") != "actions"]
    return kept + [{"type": "context", "elements": [_text(f"✅ Acknowledged by {user(by)} {when(at_ms)}")]}]


def phase_overdue(incident: Incident, book: Playbook, phase_index: int) -> str:
    phase = book.phases[phase_index]
    return (f"⏰ *{escape(phase.title)}* has run past its target window ({escape(phase.window)}) for "
            f"{incident.name}. Complete the phase when its steps are done, or note why it is taking longer.")


def resolved_message(incident: Incident) -> str:
    duration = format_duration((incident.resolved_at - incident.declared_at) / 1000)
    return (f"✅ *{incident.name} resolved* by {user(incident.resolved_by)} after {duration}.\n"
            f"*Cause:* {escape(incident.cause)}\n*Resolution:* {escape(incident.resolution)}")


# ---------------------------------------------------------------- status updates

def status_modal(incident: Incident, kind: str, proposed: str, meta: StatusMeta,
                 status_channel: str | None) -> dict[str, Any]:
    where = f"*{escape(status_channel)}* and this channel" if status_channel else \
        "this channel (STATUS_CHANNEL is not set)"
    return _form(Callback.STATUS, "Status update", "Post update", meta, [
        _section(f"The *{kind}* update for *{incident.name}* · {escape(incident.title)}, to {where}."),
        _input("eta", "ETA for normal performance", optional=True, max_length=100,
               placeholder="e.g. 30 minutes, 14:00 UTC"),
        _input("text", "Update", initial=proposed, multiline=True, max_length=3000,
               hint="Left as proposed, it is filled in again with the ETA and the time of posting. "
                    "Edited, it is posted exactly as written."),
    ])


# Past this much text a message's blocks are refused (msg_blocks_too_long); such an update goes as text.
BLOCKS_TEXT_BUDGET = 11_000


def _wrap(text: str, limit: int = 2800) -> str:
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


def status_update_post(incident: Incident, kind: str, text: str) -> tuple[str, list[Block]]:
    """The update as STATUS_CHANNEL shows it; `text` is already escaped mrkdwn."""
    if len(text) > BLOCKS_TEXT_BUDGET:
        return text, []
    parts = [_section(part) for part in _chunks(_wrap(text))][:45]
    return text, parts + [{"type": "context", "elements": [
        _text(f"{incident.name} · {escape(incident.title)} · {escape(kind)} update")]}]


def status_update_echo(incident: Incident, kind: str, text: str, by: str,
                       status_channel_id: str) -> tuple[str, list[Block]]:
    """What the incident channel sees of a status update it just posted; `text` is escaped mrkdwn."""
    where = f" to <#{status_channel_id}>" if status_channel_id else ""
    head = f"📣 {user(by)} posted the {escape(kind)} status update{where}:"
    if len(text) > BLOCKS_TEXT_BUDGET:
        return f"{head}\n{text}", []
    quoted = "\n".join("> " + line for line in _wrap(text).splitlines())
    return f"{head}\n{text}", [_section(head)] + [_section(part) for part in _chunks(quoted)][:45]


# ---------------------------------------------------------------- the RCA

def rca_comment(incident: Incident) -> str:
    """The short summary posted with the RCA file (a file comment takes text only, no blocks)."""
    duration = format_duration((incident.resolved_at - incident.declared_at) / 1000)
    due = f" It is due {when(incident.rca_due_at)}." if incident.rca_due_at else ""
    return (f"📝 *RCA draft for {incident.name}* · {escape(incident.title)}\n"
            f"{incident.severity} · resolved after {duration} · cause: {escape(truncate(incident.cause, 300))}\n"
            f"Summary and timeline are filled in; fill in the placeholders before the review.{due}")


def rca_review_message(incident: Incident) -> tuple[str, list[Block]]:
    due = when(incident.rca_due_at) if incident.rca_due_at else "within a day"
    text = (f"The RCA for *{incident.name}* is due {due}. When the team has reviewed it, mark it here "
            "(or `/incident rca reviewed`); until then the commander is reminded when it falls due.")
    return f"RCA for {incident.name} due", [_section(text), _rca_button(incident)]


def _rca_button(incident: Incident) -> Block:
    return {"type": "actions", "block_id": "rca", "elements": [
        _button("Mark RCA reviewed", Action.RCA_REVIEWED, IncidentMeta(i=incident.id).model_dump_json(),
                "primary")]}


def rca_reminder(incident: Incident) -> tuple[str, list[Block]]:
    target = incident.commander or incident.resolved_by
    text = (f"⏰ {user(target)} the RCA for *{incident.name}* · {escape(incident.title)} was due "
            f"{when(incident.rca_due_at)} and is not marked reviewed. Finish it with the team, then mark it.")
    return f"RCA for {incident.name} is overdue", [_section(text), _rca_button(incident)]


def rca_reviewed_message(incident: Incident) -> str:
    return f"✅ {user(incident.rca_reviewed_by)} marked the RCA for *{incident.name}* reviewed."


def rca_button_done(original: list[Block], by: str, at_ms: int) -> list[Block]:
    """A message with the review button, the button replaced by who marked it."""
    kept = [b for b in original if b.get("type") != "actions"]
    return kept + [{"type": "context", "elements": [_text(f"✅ RCA marked reviewed by {user(by)} {when(at_ms)}")]}]
