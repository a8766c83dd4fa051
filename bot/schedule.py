"""What an incident has scheduled, and pure decisions about it. Time is always an argument."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incident import Incident
from bot.playbook import Playbook

ESCALATION = "esc"
PHASE_OVERDUE = "phase"
RCA_DUE = "rca"  # one per resolved incident; lives while the RCA is not reviewed (see keys.rca_due)


@dataclass(frozen=True)
class Due:
    kind: str  # ESCALATION, PHASE_OVERDUE or RCA_DUE
    incident_id: str
    index: int  # escalation level or phase index

    @property
    def member(self) -> str:
        return f"{self.kind}|{self.incident_id}|{self.index}"

    @classmethod
    def parse(cls, member: str) -> Due:
        kind, incident_id, index = member.split("|")
        return cls(kind, incident_id, int(index))


def plan_for_incident(incident: Incident, book: Playbook) -> dict[str, int]:
    """member -> due time (epoch ms) for every escalation level and phase window."""
    plan = {
        Due(ESCALATION, incident.id, i).member: incident.declared_at + level.after * 1000
        for i, level in enumerate(book.meta.escalation)
    }
    # Phase windows in the runbooks are counted from the start of the incident ("Diagnose 1–3 h").
    for i, phase in enumerate(book.phases):
        if phase.window_end is not None:
            plan[Due(PHASE_OVERDUE, incident.id, i).member] = incident.declared_at + phase.window_end * 1000
    return plan


def all_members(incident_id: str, book: Playbook) -> list[str]:
    """Every member an incident may have scheduled, to remove them all when it resolves."""
    return [Due(ESCALATION, incident_id, i).member for i in range(len(book.meta.escalation))] + [
        Due(PHASE_OVERDUE, incident_id, i).member for i in range(len(book.phases))
    ]


def rca_member(incident_id: str) -> str:
    return Due(RCA_DUE, incident_id, 0).member


def lateness_ms(due_ms: int, now_ms: int) -> int:
    return max(0, now_ms - due_ms)


def is_late(due_ms: int, now_ms: int, late_after_ms: int) -> bool:
    """Late means the bot was down or Redis away at the due time, not ordinary polling delay."""
    return lateness_ms(due_ms, now_ms) > late_after_ms
