"""Messages, built from the stored incident. The same state always draws the same message; nothing here
reads Redis or calls Slack."""

from __future__ import annotations

from typing import Any

from bot import limits
from bot.durations import format_duration, in_words
from bot.ids import Action, AlertRef, EscalationRef, IncidentMeta, StepRef
from bot.incident import AlertRow, Incident, RcaStatus, Source, StepStatus, pagerduty_name
from bot.kit import Block, button, chunks, context, header, section, text_obj, user, when, wrap
from bot.mrkdwn import escape, mention, truncate
from bot.playbook import PHASES, TARGET_NAMES, Playbook
from bot.roster import Roster


def phase_name(incident: Incident, book: Playbook) -> str:
    if not incident.is_open:
        return "Resolved"
    if 0 <= incident.phase < len(book.phases):
        return book.phases[incident.phase].label
    return "—"


def channel_name_hint(incident: Incident) -> str:
    return f"<#{incident.channel_id}>" if incident.channel_id else "(channel not created)"


# Alerts listed in one message; the rest are counted.
SHOWN_ALERTS = 10


def declared_by(incident: Incident) -> str:
    """Who or what declared it, for the card and the announcement."""
    match incident.source:
        case Source.ALERT:
            return "an alert"
        case Source.SUGGESTED:
            return f"{user(incident.declared_by)} from an alert"
        case _:
            return user(incident.declared_by)


def alert_lines(alerts: list[AlertRow]) -> list[str]:
    """One line per alert (its name links to where it was generated), at most SHOWN_ALERTS, then a count."""
    lines = []
    for a in alerts[:SHOWN_ALERTS]:
        name = f"<{a.url}|{escape(a.name)}>" if a.url else f"*{escape(a.name)}*"
        icon = "🔥" if a.status == "firing" else "✅"
        lines.append(f"{icon} {name}" + (f" — {escape(a.summary)}" if a.summary else ""))
    if len(alerts) > SHOWN_ALERTS:
        lines.append(f"…and {len(alerts) - SHOWN_ALERTS} more")
    return lines


def _alerts_section(incident: Incident) -> Block | None:
    if not incident.alerts:
        return None
    firing = [a for a in incident.alerts if a.status == "firing"]
    resolved = len(incident.alerts) - len(firing)
    where = f" · <{incident.alert_url}|Alertmanager>" if incident.alert_url else ""
    lines = alert_lines(firing) or ["None firing now."]
    if resolved:
        lines.append(f"✅ {resolved} resolved")
    return section(f"*Firing alerts*{where}\n" + "\n".join(lines))


def card(incident: Incident, book: Playbook) -> tuple[str, list[Block]]:
    status = "🟢 Resolved" if not incident.is_open else "🔴 Open"
    fields = [
        f"*Severity*\n{incident.severity}",
        f"*Status*\n{status}",
        f"*Phase*\n{escape(phase_name(incident, book))}",
        f"*Commander*\n{user(incident.commander)}",
        f"*{'Opened' if incident.source == Source.ALERT else 'Declared'} by*\n{declared_by(incident)} "
        f"{when(incident.declared_at)}",
        f"*Playbook*\n{escape(book.meta.title)} (`{book.key}`)",
    ]
    if incident.service:
        fields.append(f"*Affected service*\n{escape(incident.service)}")
    if not incident.is_open and incident.resolved_at:
        fields.append(f"*Resolved*\n{when(incident.resolved_at)} "
                      f"after {format_duration((incident.resolved_at - incident.declared_at) / 1000)}")
    targets = _targets_field(incident, book)
    if targets:
        fields.append(targets)
    if incident.rca_status == RcaStatus.REVIEWED:
        fields.append(f"*RCA*\nReviewed by {user(incident.rca_reviewed_by)} {when(incident.rca_reviewed_at)}")
    elif incident.rca_status and incident.rca_due_at:
        fields.append(f"*RCA*\nDue {when(incident.rca_due_at)}")
    blocks: list[Block] = [
        header(f"{incident.name} · {incident.title}"),
        {"type": "section", "fields": [text_obj(truncate(f, limits.FIELD_TEXT)) for f in fields]},
    ]
    if incident.description:
        blocks.append(section(f"*Description*\n{escape(incident.description)}"))
    alerts = _alerts_section(incident)
    if alerts is not None:
        blocks.append(alerts)
    if not incident.is_open and (incident.cause or incident.resolution):
        blocks.append(section(f"*Cause*\n{escape(incident.cause)}\n*Resolution*\n{escape(incident.resolution)}"))
    if incident.is_open:
        blocks.append({"type": "actions", "block_id": "card", "elements": [
            button("Post status update", Action.STATUS_UPDATE, IncidentMeta(i=incident.id).model_dump_json())]})
    blocks.append(context("Commands here: `/incident note <text>` · `/incident sev P1` · "
                          "`/incident commander @user` · `/incident status` · `/incident timeline` · "
                          "`/incident page <role>` · `/incident resolve`"))
    text = f"{incident.name} [{incident.severity}] {escape(incident.title)} — {status}"
    return text, blocks


def _targets_field(incident: Incident, book: Playbook) -> str:
    """Each response target: its deadline while it can still be met (Slack shows it in the reader's time
    zone, so nothing needs redrawing as time passes), then whether and when it was met."""
    lines = []
    for index, name, seconds in book.meta.targets.set():
        deadline = incident.declared_at + seconds * 1000
        target = f"the {in_words(seconds)} target"
        met_at = incident.acknowledged_at if name == "acknowledge" else incident.resolved_at
        if met_at:
            verb = "Acknowledged" if name == "acknowledge" else "Resolved"
            by = f" by {user(incident.acknowledged_by)}" if name == "acknowledge" else ""
            # Rounded up, so a response a moment late never reads "0s after".
            late = f"{format_duration(-((deadline - met_at) // 1000))} after {target}" if met_at > deadline \
                else f"within {target}"
            lines.append(f"{'✅' if met_at <= deadline else '⚠️'} {verb} {when(met_at)}{by}, {late}")
        elif incident.is_open:
            missed = " · ⏰ *missed*" if index in incident.target_at else ""
            lines.append(f"{name.capitalize()} by {when(deadline)} ({target}){missed}")
    return "*Targets*\n" + "\n".join(lines) if lines else ""


def topic(incident: Incident, book: Playbook) -> str:
    """Channel topic: plain text."""
    state = "RESOLVED" if not incident.is_open else phase_name(incident, book)
    return truncate(f"{incident.severity} · {incident.title} · {state} · {incident.name}", limits.TOPIC)


def announcement(incident: Incident, book: Playbook) -> tuple[str, list[Block]]:
    if incident.private:  # that there is one, and how bad; nothing of what or who
        state = "is open" if incident.is_open else \
            f"was resolved after {format_duration((incident.resolved_at - incident.declared_at) / 1000)}"
        text = f"🔒 A private incident, *{incident.name}* [{incident.severity}], {state}."
        return f"{incident.name} (private)", [section(text)]
    verb = "opened by" if incident.source == Source.ALERT else "declared by"
    text = (f"🚨 *{incident.name}* [{incident.severity}] {escape(incident.title)} — {verb} "
            f"{declared_by(incident)} with the *{escape(book.meta.title)}* playbook. "
            f"Join {channel_name_hint(incident)}.")
    if not incident.is_open:
        text = (f"✅ *{incident.name}* [{incident.severity}] {escape(incident.title)} — resolved "
                f"after {format_duration((incident.resolved_at - incident.declared_at) / 1000)}. "
                f"{channel_name_hint(incident)}")
    return f"{incident.name} {escape(incident.title)}", [section(text)]


def _step_line(incident: Incident, phase_index: int, index: int, text: str) -> str:
    state = incident.step(phase_index, index)
    body = escape(text)
    if state is None:
        return f"⬜ *{index + 1}.* {body}"
    if state.state == StepStatus.DONE:
        return f"✅ *{index + 1}.* ~{body}~\n_done by {user(state.by)} {when(state.at)}_"
    return f"⏭️ *{index + 1}.* ~{body}~\n_skipped when the phase was completed by {user(state.by)}_"


def phase_message(incident: Incident, book: Playbook, phase_index: int) -> tuple[str, list[Block]]:
    phase = book.phases[phase_index]
    active = incident.is_open and incident.phase == phase_index
    blocks: list[Block] = [header(f"Phase {phase_index + 1} of {len(PHASES)} · {phase.label}")]
    if phase.description:
        blocks.append(section(escape(phase.description)))
    open_steps = skipped = 0
    for i, step in enumerate(phase.steps):
        state = incident.step(phase_index, i)
        if state is None:
            open_steps += 1
        elif state.state == StepStatus.SKIPPED:
            skipped += 1
        block = section(_step_line(incident, phase_index, i, step.text), block_id=f"step:{phase_index}:{i}")
        if active:
            done = state is not None
            ref = StepRef(i=incident.id, b=incident.playbook, p=phase_index, s=i, a="undo" if done else "done")
            block["accessory"] = button("Undo" if done else "Done", f"{Action.STEP}:{phase_index}:{i}",
                                         ref.model_dump_json(), None if done else "primary")
        blocks.append(block)
    total = len(phase.steps)
    progress = f"{total - open_steps - skipped} of {total} steps done" + (f", {skipped} skipped" if skipped else "")
    if not active:
        progress += " · phase closed" if incident.phase > phase_index or not incident.is_open else ""
    blocks.append(context(progress))
    elements: list[dict[str, Any]] = []
    if active:
        confirm = None
        if open_steps:
            confirm = {
                "title": text_obj(f"Complete {phase.title}?", plain=True),
                "text": text_obj(f"{open_steps} step(s) are still open. They will be recorded as skipped."),
                "confirm": text_obj("Skip and complete", plain=True),
                "deny": text_obj("Keep working", plain=True),
                "style": "danger",
            }
        label = f"Complete {phase.title}" + (" and resolve" if phase_index == len(PHASES) - 1 else "")
        elements.append(button(label, f"{Action.COMPLETE_PHASE}:{phase_index}",
                                StepRef(i=incident.id, b=incident.playbook, p=phase_index).model_dump_json(),
                                "primary" if not open_steps else None, confirm))
    with_detail = [(i, s) for i, s in enumerate(phase.steps) if s.detail]
    if with_detail:
        elements.append({
            "type": "static_select",
            "action_id": f"{Action.DETAILS}:{phase_index}",
            "placeholder": text_obj("Show a step's commands and details", plain=True),
            "options": [
                {"text": text_obj(truncate(f"{i + 1}. {s.text}", limits.BUTTON_TEXT), plain=True),
                 "value": StepRef(i=incident.id, b=incident.playbook, p=phase_index, s=i).model_dump_json()}
                for i, s in with_detail[:limits.OPTIONS]
            ],
        })
    if elements:
        blocks.append({"type": "actions", "block_id": f"phase:{phase_index}", "elements": elements})
    return f"{incident.name} · {phase.label}: {total - open_steps}/{total} done", blocks


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
        "• `/incident page <role> [message]` — page a roster role through PagerDuty now",
        "• `/incident resolve` — resolve, with cause and resolution; the RCA draft follows",
        "• `/incident rca reviewed` — mark the RCA reviewed after the review meeting",
        "• Message shortcut *Add to timeline* — put any message of the channel on the timeline",
    ]
    return "\n".join(lines)


def error_blocks(message: str) -> list[Block]:
    return [section(f"⚠️ {message}")]


def acknowledger(who: str) -> str:
    """Who acknowledged: a Slack mention, or the name PagerDuty gave."""
    name = pagerduty_name(who)
    return f"{escape(name)} (PagerDuty)" if name is not None else user(who)


def escalation_ping(incident: Incident, book: Playbook, level: int, roster: Roster) -> tuple[str, list[Block]]:
    """The ping of one level as sent (its time and lateness are stored), and who acknowledged it."""
    esc = book.meta.escalation[level]
    who = _mentions(esc.notify, roster)
    paged = [r for r in esc.notify if r in roster and roster[r].pageable]
    if paged:
        who += f"\n📟 Paged through PagerDuty: {', '.join(paged)}"
    sent_at = incident.ping_at.get(level, incident.declared_at)
    late_ms = incident.ping_late.get(level, 0)
    open_for = format_duration((sent_at - incident.declared_at) / 1000)
    late = f"\n_Sent {format_duration(late_ms / 1000)} late: the bot was not running at the due time._" \
        if late_ms else ""
    # As it stood when the ping went out (stored then), so later changes don't rewrite what was said.
    severity = incident.ping_severity.get(level, incident.severity)
    phase = incident.ping_phase.get(level, incident.phase)
    phase_label = book.phases[phase].label if 0 <= phase < len(book.phases) else phase_name(incident, book)
    text = (f"🚨 *Escalation {level + 1}/{len(book.meta.escalation)}: {escape(esc.message)}*\n{who}\n"
            f"*{incident.name}* · {escape(incident.title)} · *{escape(severity)}* · phase "
            f"{escape(phase_label)} · open for {open_for}{late}")
    blocks = [section(text)]
    if level in incident.ack_by:
        by, at = acknowledger(incident.ack_by[level]), when(incident.ack_at[level])
        blocks.append(context(f"✅ Acknowledged by {by} {at}"))
    elif incident.is_open:
        ref = EscalationRef(i=incident.id, level=level)
        blocks.append({"type": "actions", "block_id": f"esc:{level}", "elements": [
            button("Acknowledge", f"{Action.ACK_ESCALATION}:{level}", ref.model_dump_json(), "primary")]})
    return f"Escalation {level + 1}: {escape(esc.message)} — {incident.name}", blocks


def _mentions(roles: list[str], roster: Roster) -> str:
    """The roster's targets for `roles`, mentioned; roles without an entry named in plain text."""
    found = [mention(roster[r].slack) for r in roles if r in roster]
    return " ".join(found + [f"*{escape(r)}* (no roster entry)" for r in roles if r not in roster])


def target_missed(incident: Incident, book: Playbook, index: int, roster: Roster) -> str:
    """The reminder when a response target passes unmet, for the channel and the target's roles."""
    seconds = book.meta.targets.seconds(index) or 0
    deadline = when(incident.declared_at + seconds * 1000)
    head = f"⏰ {_mentions(book.meta.targets.notify, roster)} *{incident.name}* · {escape(incident.title)}"
    if TARGET_NAMES[index] == "acknowledge":
        return (f"{head} has not been acknowledged within its {in_words(seconds)} target (by {deadline}). "
                "Make sure someone owns it now: check off a step or acknowledge an escalation.")
    return (f"{head} is still open past its {in_words(seconds)} resolution target (by {deadline}), "
            f"in {escape(phase_name(incident, book))}. Decide whether to escalate further, and post a status "
            "update with a new ETA.")


def phase_overdue(incident: Incident, book: Playbook, phase_index: int) -> str:
    phase = book.phases[phase_index]
    return (f"⏰ *{escape(phase.title)}* has run past its target window ({escape(phase.window)}) for "
            f"{incident.name}. Complete the phase when its steps are done, or note why it is taking longer.")


def resolved_message(incident: Incident) -> str:
    duration = format_duration((incident.resolved_at - incident.declared_at) / 1000)
    return (f"✅ *{incident.name} resolved* by {user(incident.resolved_by)} after {duration}.\n"
            f"*Cause:* {escape(incident.cause)}\n*Resolution:* {escape(incident.resolution)}")


def status_update_post(incident: Incident, kind: str, text: str) -> tuple[str, list[Block]]:
    """The update as STATUS_CHANNEL shows it; `text` is already escaped mrkdwn."""
    if len(text) > limits.BLOCKS_TEXT_BUDGET:
        return text, []
    parts = [section(part) for part in chunks(wrap(text))][:limits.TEXT_SECTIONS]
    return text, parts + [context(f"{incident.name} · {escape(incident.title)} · {escape(kind)} update")]


def status_update_echo(incident: Incident, kind: str, text: str, by: str,
                       status_channel_id: str) -> tuple[str, list[Block]]:
    """What the incident channel sees of a status update it just posted; `text` is escaped mrkdwn."""
    where = f" to <#{status_channel_id}>" if status_channel_id else ""
    head = f"📣 {user(by)} posted the {escape(kind)} status update{where}:"
    if len(text) > limits.BLOCKS_TEXT_BUDGET:
        return f"{head}\n{text}", []
    quoted = "\n".join("> " + line for line in wrap(text).splitlines())
    return f"{head}\n{text}", [section(head)] + [section(part) for part in chunks(quoted)][:limits.TEXT_SECTIONS]


def rca_comment(incident: Incident) -> str:
    """The short summary posted with the RCA file (a file comment takes text only, no blocks)."""
    duration = format_duration((incident.resolved_at - incident.declared_at) / 1000)
    due = f" It is due {when(incident.rca_due_at)}." if incident.rca_due_at else ""
    return (f"📝 *RCA draft for {incident.name}* · {escape(incident.title)}\n"
            f"{incident.severity} · resolved after {duration} · cause: {escape(truncate(incident.cause, 300))}\n"
            f"Summary and timeline are filled in; fill in the placeholders before the review.{due}")


def _review_window(incident: Incident) -> str:
    """How long after the resolve the RCA is due, as the playbook (or RCA_DUE_AFTER) set it."""
    return in_words((incident.rca_due_at - incident.resolved_at) / 1000)


def rca_review_message(incident: Incident) -> tuple[str, list[Block]]:
    due = f"{when(incident.rca_due_at)}, {_review_window(incident)} after the resolve" if incident.rca_due_at \
        else "after the resolve"
    text = (f"The RCA for *{incident.name}* is due {due}. When the team has reviewed it, mark it here "
            "(or `/incident rca reviewed`); until then the commander is reminded when it falls due.")
    return f"RCA for {incident.name} due", [section(text), _rca_action(incident)]


def _rca_action(incident: Incident) -> Block:
    """The Mark reviewed button until the RCA is reviewed, then who reviewed it."""
    if incident.rca_status == RcaStatus.REVIEWED:
        return context(f"✅ RCA marked reviewed by {user(incident.rca_reviewed_by)} {when(incident.rca_reviewed_at)}")
    return {"type": "actions", "block_id": "rca", "elements": [
        button("Mark RCA reviewed", Action.RCA_REVIEWED, IncidentMeta(i=incident.id).model_dump_json(), "primary")]}


def rca_reminder(incident: Incident) -> tuple[str, list[Block]]:
    target = incident.commander or incident.resolved_by
    text = (f"⏰ {user(target)} the RCA for *{incident.name}* · {escape(incident.title)} was due "
            f"{when(incident.rca_due_at)}, {_review_window(incident)} after the resolve, and is not marked "
            "reviewed. Finish it with the team, then mark it.")
    return f"RCA for {incident.name} is overdue", [section(text), _rca_action(incident)]


def rca_reviewed_message(incident: Incident) -> str:
    return f"✅ {user(incident.rca_reviewed_by)} marked the RCA for *{incident.name}* reviewed."



def alert_note(incident: Incident, number: int) -> tuple[str, list[Block]]:
    """A note in the incident channel: alerts of its group that started firing, or the whole group resolved
    (with a Resolve button while the incident is open: the bot never resolves by itself)."""
    note = incident.alert_note[number]
    if note.kind == "resolved":
        blocks = [section("✅ *All alerts resolved.* Every alert of this incident's group is resolved. When the "
                          "service looks healthy, resolve the incident; the bot leaves that to you.")]
        if incident.is_open:
            blocks.append({"type": "actions", "block_id": "alerts_resolved", "elements": [
                button("Resolve", Action.RESOLVE, IncidentMeta(i=incident.id).model_dump_json(), "primary")]})
        else:
            blocks.append(context(f"✅ {incident.name} is resolved."))
        return f"All alerts resolved — {incident.name}", blocks
    text = f"🔔 *New alert firing* in {incident.name}:\n" + "\n".join(alert_lines(note.alerts))
    return f"New alert firing — {incident.name}", [section(text)]


def alert_suggestion(book: Playbook, group: str, title: str, alerts: list[AlertRow],
                     url: str) -> tuple[str, list[Block]]:
    """Posted in ANNOUNCE_CHANNEL for a playbook with `alert_mode: suggest`: a person decides."""
    where = f" · <{url}|Alertmanager>" if url else ""
    text = (f"🔔 *Alert firing:* {escape(title)}{where}\nIt matches the *{escape(book.meta.title)}* playbook "
            f"(`{book.key}`). Declare an incident if it needs one.\n" + "\n".join(alert_lines(alerts)))
    button_ = button("Declare incident", Action.ALERT_DECLARE, AlertRef(g=group).model_dump_json(), "primary")
    return f"Alert firing: {escape(title)}", [section(text), {"type": "actions", "block_id": "alert_suggestion",
                                                              "elements": [button_]}]
