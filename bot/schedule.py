"""What an incident has scheduled, and pure decisions about it. Time is always an argument."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.incident import Incident
from bot.playbook import TARGET_NAMES, Playbook


class DueKind(StrEnum):
    ESCALATION = "esc"  # an escalation level falls due
    PHASE = "phase"  # a phase ran past its target window
    TARGET = "target"  # a response target passed unmet (index into playbook.TARGET_NAMES)
    RCA = "rca"  # the RCA is due; one per resolved incident, wanted while it is not reviewed (keys.rca_due)
    PAGE = "page"  # an event for PagerDuty about one role's page (keys.pages)
    ALERT = "alert"  # an alert group has deliveries to process (keys.alert_due); `incident_id` is the group


class PageAction(StrEnum):
    """Events API v2 `event_action`s, in the order PagerDuty must hear them for one dedup key."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    @property
    def earlier(self) -> list[PageAction]:
        """The actions that must reach PagerDuty before this one, when both are waiting."""
        order = list(PageAction)
        return order[: order.index(self)]


@dataclass(frozen=True)
class Due:
    kind: DueKind
    incident_id: str  # the incident; for ALERT, the alert group
    index: int = 0  # escalation level, phase or target index; 0 for the RCA, pages and an alert group
    action: PageAction | None = None  # pages only
    role: str = ""  # pages only

    @property
    def member(self) -> str:
        """Also built in lua/_common.lua (page_member) for pages queued by a script."""
        if self.kind == DueKind.PAGE:
            return f"{self.kind}|{self.incident_id}|{self.action}|{self.role}"
        return f"{self.kind}|{self.incident_id}|{self.index}"

    @classmethod
    def parse(cls, member: str) -> Due:
        kind, incident_id, rest = member.split("|", 2)
        if kind == DueKind.PAGE:
            action, role = rest.split("|", 1)
            return cls.page(incident_id, PageAction(action), role)
        return cls(DueKind(kind), incident_id, int(rest))

    @classmethod
    def rca(cls, incident_id: str) -> Due:
        return cls(DueKind.RCA, incident_id, 0)

    @classmethod
    def page(cls, incident_id: str, action: PageAction, role: str) -> Due:
        """One member per role and action: a page waiting to be sent is not queued twice."""
        return cls(DueKind.PAGE, incident_id, action=action, role=role)

    @classmethod
    def alert(cls, group: str) -> Due:
        return cls(DueKind.ALERT, group, 0)


def plan_for_incident(incident: Incident, book: Playbook) -> dict[Due, int]:
    """Every escalation level, phase window and response target -> its due time (epoch ms)."""
    plan = {Due(DueKind.ESCALATION, incident.id, i): incident.declared_at + level.after * 1000
            for i, level in enumerate(book.meta.escalation)}
    # Phase windows in the runbooks are counted from the start of the incident ("Diagnose 1–3 h").
    for i, phase in enumerate(book.phases):
        if phase.window_end is not None:
            plan[Due(DueKind.PHASE, incident.id, i)] = incident.declared_at + phase.window_end * 1000
    # So are the targets ("acknowledge within 1 hour, resolve within 8 hours").
    for i, _, seconds in book.meta.targets.set():
        plan[Due(DueKind.TARGET, incident.id, i)] = incident.declared_at + seconds * 1000
    return plan


def all_members(incident_id: str, book: Playbook) -> list[str]:
    """Every member an open incident may have scheduled, to remove them all when it resolves."""
    return [Due(DueKind.ESCALATION, incident_id, i).member for i in range(len(book.meta.escalation))] + [
        Due(DueKind.PHASE, incident_id, i).member for i in range(len(book.phases))
    ] + [Due(DueKind.TARGET, incident_id, i).member for i in range(len(TARGET_NAMES))]


def lateness_ms(due_ms: int, now_ms: int) -> int:
    return max(0, now_ms - due_ms)


def is_late(due_ms: int, now_ms: int, late_after_ms: int) -> bool:
    """Late means the bot was down or Redis away at the due time, not ordinary polling delay."""
    return lateness_ms(due_ms, now_ms) > late_after_ms
