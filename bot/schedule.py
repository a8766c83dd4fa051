"""What an incident has scheduled, and pure decisions about it. Time is always an argument."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.incident import Incident
from bot.playbook import Playbook


class DueKind(StrEnum):
    ESCALATION = "esc"  # an escalation level falls due
    PHASE = "phase"  # a phase ran past its target window
    RCA = "rca"  # the RCA is due; one per resolved incident, wanted while it is not reviewed (keys.rca_due)
    ALERT = "alert"  # an alert group has deliveries to process (keys.alert_due); `incident_id` is the group


@dataclass(frozen=True)
class Due:
    kind: DueKind
    incident_id: str  # the incident; for ALERT, the alert group
    index: int  # escalation level or phase index; 0 for the RCA and an alert group

    @property
    def member(self) -> str:
        return f"{self.kind}|{self.incident_id}|{self.index}"

    @classmethod
    def parse(cls, member: str) -> Due:
        kind, incident_id, index = member.split("|")
        return cls(DueKind(kind), incident_id, int(index))

    @classmethod
    def rca(cls, incident_id: str) -> Due:
        return cls(DueKind.RCA, incident_id, 0)

    @classmethod
    def alert(cls, group: str) -> Due:
        return cls(DueKind.ALERT, group, 0)


def plan_for_incident(incident: Incident, book: Playbook) -> dict[Due, int]:
    """Every escalation level and phase window -> its due time (epoch ms)."""
    plan = {Due(DueKind.ESCALATION, incident.id, i): incident.declared_at + level.after * 1000
            for i, level in enumerate(book.meta.escalation)}
    # Phase windows in the runbooks are counted from the start of the incident ("Diagnose 1–3 h").
    for i, phase in enumerate(book.phases):
        if phase.window_end is not None:
            plan[Due(DueKind.PHASE, incident.id, i)] = incident.declared_at + phase.window_end * 1000
    return plan


def all_members(incident_id: str, book: Playbook) -> list[str]:
    """Every member an open incident may have scheduled, to remove them all when it resolves."""
    return [Due(DueKind.ESCALATION, incident_id, i).member for i in range(len(book.meta.escalation))] + [
        Due(DueKind.PHASE, incident_id, i).member for i in range(len(book.phases))
    ]


def lateness_ms(due_ms: int, now_ms: int) -> int:
    return max(0, now_ms - due_ms)


def is_late(due_ms: int, now_ms: int, late_after_ms: int) -> bool:
    """Late means the bot was down or Redis away at the due time, not ordinary polling delay."""
    return lateness_ms(due_ms, now_ms) > late_after_ms
