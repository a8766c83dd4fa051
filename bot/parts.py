"""The parts of Slack that show an incident: each message the bot keeps up to date, and the topic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CARD = "card"  # the pinned incident card
    PHASE = "phase"  # one checklist message per phase
    TOPIC = "topic"  # the incident channel's topic
    ANNOUNCEMENT = "announcement"  # the post in ANNOUNCE_CHANNEL
    PING = "ping"  # one message per escalation level sent
    RCA_REVIEW = "rca_review"  # "the RCA is due" with its Mark reviewed button
    RCA_REMINDER = "rca_reminder"  # the overdue reminder, with the same button
    ALERT_NOTE = "alert_note"  # one message per note about the incident's alerts (new ones firing, all resolved)


_INDEXED = frozenset({Kind.PHASE, Kind.PING, Kind.ALERT_NOTE})


@dataclass(frozen=True, order=True)
class Part:
    kind: Kind
    index: int = 0  # phase or escalation level; 0 for the others

    @property
    def key(self) -> str:
        """How Redis names it (render lock, rendered hash, dirty set)."""
        return f"{self.kind}:{self.index}" if self.kind in _INDEXED else str(self.kind)

    @property
    def ts_field(self) -> str:
        """The incident field holding its message ts (the topic has none)."""
        return f"{self.kind}_ts:{self.index}" if self.kind in _INDEXED else f"{self.kind}_ts"

    @classmethod
    def parse(cls, key: str) -> Part:
        kind, _, index = key.partition(":")
        return cls(Kind(kind), int(index or 0))

    def member(self, incident_id: str) -> str:
        """Its entry in the dirty set."""
        return f"{incident_id}|{self.key}"

    @classmethod
    def from_member(cls, member: str) -> tuple[str, Part]:
        incident_id, _, key = member.partition("|")
        return incident_id, cls.parse(key)


CARD = Part(Kind.CARD)
TOPIC = Part(Kind.TOPIC)
ANNOUNCEMENT = Part(Kind.ANNOUNCEMENT)
RCA_REVIEW = Part(Kind.RCA_REVIEW)
RCA_REMINDER = Part(Kind.RCA_REMINDER)


def phase(index: int) -> Part:
    return Part(Kind.PHASE, index)


def ping(level: int) -> Part:
    return Part(Kind.PING, level)


def alert_note(number: int) -> Part:
    return Part(Kind.ALERT_NOTE, number)


# What changes when the incident's headline (severity, phase, status) changes.
HEADLINE = frozenset({CARD, TOPIC, ANNOUNCEMENT})
