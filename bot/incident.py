"""The incident as stored in Redis, and the timeline event shape."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, Json, field_validator

# Someone who acknowledged a page in PagerDuty is a name, not a Slack id; stored with this prefix, which no
# Slack id has, wherever an acknowledger or an actor is kept.
PAGERDUTY_ACTOR = "pagerduty:"


def pagerduty_actor(name: str) -> str:
    return PAGERDUTY_ACTOR + name


def pagerduty_name(actor: str) -> str | None:
    """The person's name when `actor` acted in PagerDuty; None for anyone else."""
    return actor.removeprefix(PAGERDUTY_ACTOR) if actor.startswith(PAGERDUTY_ACTOR) else None


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    FAILED = "failed"  # the channel could not be created; kept as a record


class RcaStatus(StrEnum):
    NONE = ""  # until resolved
    DUE = "due"
    REVIEWED = "reviewed"


class StepStatus(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"


class StepState(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: StepStatus
    by: str
    at: int  # epoch ms


class Source(StrEnum):
    SLASH = ""  # `/incident <playbook>` (and every incident from before alerts)
    ALERT = "alert"  # declared by the bot from an alert group
    SUGGESTED = "suggested"  # declared by a person from the bot's suggestion for an alert group


class AlertRow(BaseModel):
    """One alert of the incident's group as the card lists it (cleaned and bounded when received)."""

    model_config = ConfigDict(frozen=True)

    fp: str  # Alertmanager's fingerprint: stable per label set
    name: str  # alertname
    summary: str = ""
    status: str  # firing | resolved
    url: str = ""  # generatorURL, checked to be an http(s) URL
    starts: str = ""  # startsAt as sent


class AlertNote(BaseModel):
    """A message posted in the incident channel about its alerts: new ones firing, or all resolved."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "firing" | "resolved"
    alerts: list[AlertRow] = []


def incident_name(incident_id: str) -> str:
    """What people call an incident."""
    return f"INC-{incident_id}"


class Incident(BaseModel):
    """Flat fields of the incident hash; every value is a string in Redis."""

    model_config = ConfigDict(frozen=True)

    id: str
    playbook: str
    title: str
    description: str = ""
    service: str = ""
    severity: str
    status: Status = Status.OPEN
    phase: int = 0
    commander: str = ""
    declared_by: str
    declared_at: int
    channel_id: str = ""
    private: bool = False  # a private channel; the announcement and status channel learn nothing of it
    channel_name: str = ""
    card_ts: str = ""
    announcement_channel: str = ""  # the id of ANNOUNCE_CHANNEL, as Slack answered the post
    announcement_ts: str = ""
    rca_review_ts: str = ""
    rca_reminder_ts: str = ""
    version: int = 0
    resolved_at: int = 0
    resolved_by: str = ""
    cause: str = ""
    resolution: str = ""
    status_updates: int = 0
    statuspage_id: str = ""  # the incident on Atlassian Statuspage, once created
    rca_status: RcaStatus = RcaStatus.NONE
    rca_due_at: int = 0
    rca_reviewed_by: str = ""
    rca_reviewed_at: int = 0
    # The first sign of response (a step done, a phase completed, an escalation acknowledged): it meets the
    # playbook's acknowledge target. Set once, never cleared.
    acknowledged_at: int = 0
    acknowledged_by: str = ""
    source: Source = Source.SLASH
    alert_group: str = ""  # the alert group (hash of its groupKey) this incident follows
    alert_url: str = ""  # the Alertmanager (or Grafana) that sent the alerts
    # Every alert of the group seen while the incident is open, by first sight.
    alerts: list[AlertRow] = Field(default_factory=list)
    # Fields stored as "name:N" in the hash, by phase or escalation level. Defaults made by a factory: pydantic
    # deep-copies a literal {} for every instance, and the scheduler builds thousands a second.
    phase_ts: dict[int, str] = Field(default_factory=dict)
    ping_ts: dict[int, str] = Field(default_factory=dict)
    ping_at: dict[int, int] = Field(default_factory=dict)  # when the ping of a level was sent
    ping_late: dict[int, int] = Field(default_factory=dict)  # how late it was, ms
    ping_severity: dict[int, str] = Field(default_factory=dict)  # the severity and phase when it was sent
    ping_phase: dict[int, int] = Field(default_factory=dict)
    ack_by: dict[int, str] = Field(default_factory=dict)
    ack_at: dict[int, int] = Field(default_factory=dict)
    # When each phase after the first started (the first: declared_at).
    phase_started: dict[int, int] = Field(default_factory=dict)
    # When the reminder of a missed target (TARGET_NAMES index) was sent.
    target_at: dict[int, int] = Field(default_factory=dict)
    alert_note: dict[int, Json[AlertNote]] = Field(default_factory=dict)  # messages about the alerts, by number
    alert_note_ts: dict[int, str] = Field(default_factory=dict)
    steps: dict[str, StepState] = Field(default_factory=dict)

    @field_validator("alerts", mode="before")
    @classmethod
    def _alerts(cls, v: Any) -> Any:
        """Stored as one JSON list (Lua's cjson writes an empty one as {})."""
        if isinstance(v, str):
            v = json.loads(v or "[]")
        return [] if v == {} else v

    @property
    def is_open(self) -> bool:
        return self.status == Status.OPEN

    @property
    def name(self) -> str:
        return incident_name(self.id)

    def step(self, phase: int, index: int) -> StepState | None:
        return self.steps.get(f"{phase}:{index}")

    @classmethod
    def from_redis(cls, fields: dict[str, str], steps: dict[str, str]) -> Incident:
        data: dict[str, Any] = {}
        for k, v in fields.items():
            name, sep, index = k.partition(":")
            if sep:
                if name in _INDEXED_FIELDS:
                    data.setdefault(name, {})[int(index)] = v
            elif name in _FIELDS:
                data[name] = v
        data["steps"] = {k: StepState.model_validate_json(v) for k, v in steps.items()}
        return cls.model_validate(data)


_FIELDS = frozenset(Incident.model_fields)  # looked up once: the class property costs a call per field
_INDEXED_FIELDS = frozenset(name for name, f in Incident.model_fields.items()
                            if name != "steps" and f.annotation is not None and str(f.annotation).startswith("dict"))


@dataclass(frozen=True)
class Event:
    """One timeline entry. `id` is ours, so a retried write is recognised and dropped."""

    type: str
    actor: str
    at: int
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stream_id: str = ""

    @property
    def data_json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"))

    @classmethod
    def from_stream(cls, stream_id: str, raw: dict[str, str]) -> Event:
        return cls(type=raw["type"], actor=raw.get("actor", ""), at=int(raw["at"]),
                   data=json.loads(raw.get("data") or "{}"), id=raw["id"], stream_id=stream_id)
