"""State → Slack: what each part of an incident should show now, and where it lives. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bot import blocks
from bot.incident import Incident
from bot.kit import Block
from bot.parts import Kind, Part
from bot.playbook import Playbook
from bot.roster import Roster


@dataclass(frozen=True)
class Drawn:
    channel: str
    ts: str  # the message to update; "" for the topic
    text: str
    blocks: list[Block] | None  # None for the topic

    @property
    def digest(self) -> str:
        """Tells whether Slack already shows exactly this, so an unchanged part costs no Slack call."""
        raw = json.dumps([self.channel, self.ts, self.text, self.blocks], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def content(part: Part, incident: Incident, book: Playbook,
            roster: Roster) -> tuple[str, list[Block] | None] | None:
    """The text and blocks `part` shows for `incident` (no blocks for the topic); None if it has none."""
    match part.kind:
        case Kind.TOPIC:
            return blocks.topic(incident, book), None
        case Kind.CARD:
            return blocks.card(incident, book)
        case Kind.PHASE:
            return blocks.phase_message(incident, book, part.index) if part.index < len(book.phases) else None
        case Kind.ANNOUNCEMENT:
            return blocks.announcement(incident, book)
        case Kind.PING:
            if part.index >= len(book.meta.escalation) or part.index not in incident.ping_at:
                return None
            return blocks.escalation_ping(incident, book, part.index, roster)
        case Kind.RCA_REVIEW:
            return blocks.rca_review_message(incident)
        case Kind.RCA_REMINDER:
            return blocks.rca_reminder(incident)
        case Kind.ALERT_NOTE:
            return blocks.alert_note(incident, part.index) if part.index in incident.alert_note else None


def location(part: Part, incident: Incident) -> tuple[str, str]:
    """(channel, message ts) of a part; the ts is "" for the topic and for a message not posted yet."""
    match part.kind:
        case Kind.TOPIC:
            return incident.channel_id, ""
        case Kind.CARD:
            return incident.channel_id, incident.card_ts
        case Kind.PHASE:
            return incident.channel_id, incident.phase_ts.get(part.index, "")
        case Kind.ANNOUNCEMENT:
            return incident.announcement_channel, incident.announcement_ts
        case Kind.PING:
            return incident.channel_id, incident.ping_ts.get(part.index, "")
        case Kind.RCA_REVIEW:
            return incident.channel_id, incident.rca_review_ts
        case Kind.RCA_REMINDER:
            return incident.channel_id, incident.rca_reminder_ts
        case Kind.ALERT_NOTE:
            return incident.channel_id, incident.alert_note_ts.get(part.index, "")


def draw(part: Part, incident: Incident, book: Playbook, roster: Roster) -> Drawn | None:
    """What `part` shows now and where; None when it has nothing in Slack to update."""
    channel, ts = location(part, incident)
    if not channel or (part.kind != Kind.TOPIC and not ts):
        return None
    drawn = content(part, incident, book, roster)
    return Drawn(channel, ts, *drawn) if drawn else None


def all_parts(incident: Incident, book: Playbook) -> set[Part]:
    """Every part an incident may show, for a full redraw (resolve, the sweep)."""
    parts = {Part(Kind.CARD), Part(Kind.TOPIC), Part(Kind.ANNOUNCEMENT), Part(Kind.RCA_REVIEW),
             Part(Kind.RCA_REMINDER)}
    parts |= {Part(Kind.PHASE, i) for i in range(len(book.phases))}
    parts |= {Part(Kind.PING, level) for level in incident.ping_at}
    parts |= {Part(Kind.ALERT_NOTE, n) for n in incident.alert_note}
    return parts
