"""Action and callback ids, and the small payloads that buttons and modals carry."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Action(StrEnum):
    # Step and detail action ids get ":phase:step" appended: action ids must be unique per message.
    STEP = "step"
    DETAILS = "details"
    COMPLETE_PHASE = "complete_phase"
    ACK_ESCALATION = "ack_escalation"
    STATUS_UPDATE = "status_update"
    RCA_REVIEWED = "rca_reviewed"
    RESOLVE = "resolve"  # opens the resolve modal (the "all alerts resolved" note)
    ALERT_DECLARE = "alert_declare"  # the suggestion for an alert group: opens the declare modal


class Callback(StrEnum):
    DECLARE = "declare"
    RESOLVE = "resolve"
    STATUS = "status"
    ADD_TO_TIMELINE = "add_to_timeline"  # message shortcut
    DETAILS = "step_details"


class StepRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    i: str  # incident id
    b: str = ""  # playbook key
    p: int  # phase index
    s: int = -1  # step index (-1 for phase-level actions)
    a: str = ""  # "done" | "undo" for step buttons


class DeclareMeta(BaseModel):
    model_config = ConfigDict(frozen=True)

    playbook: str
    channel: str = ""  # where /incident was typed
    g: str = ""  # the alert group whose suggestion the modal was opened from


class IncidentMeta(BaseModel):
    model_config = ConfigDict(frozen=True)

    i: str


class StatusMeta(BaseModel):
    model_config = ConfigDict(frozen=True)

    i: str  # incident id
    k: str  # kind of update proposed: initial | progress
    h: str  # fingerprint of the proposed text, to tell whether it was edited


class AlertRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    g: str  # alert group


class EscalationRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    i: str
    level: int
