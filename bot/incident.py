"""The incident as stored in Redis, and the timeline event shape."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

OPEN = "open"
RESOLVED = "resolved"
RCA_PENDING = "due"
RCA_REVIEWED = "reviewed"


class StepState(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: str  # "done" | "skipped"
    by: str
    at: int  # epoch ms


class Incident(BaseModel):
    """Flat fields of the incident hash; every value is a string in Redis."""

    model_config = ConfigDict(frozen=True)

    id: str
    playbook: str
    title: str
    description: str = ""
    service: str = ""
    severity: str
    status: str = OPEN
    phase: int = 0
    commander: str = ""
    declared_by: str
    declared_at: int
    channel_id: str = ""
    channel_name: str = ""
    card_ts: str = ""
    version: int = 0
    resolved_at: int = 0
    resolved_by: str = ""
    cause: str = ""
    resolution: str = ""
    status_updates: int = 0
    statuspage_id: str = ""  # the incident on Atlassian Statuspage, once created
    rca_status: str = ""  # "" until resolved, then RCA_PENDING, then RCA_REVIEWED
    rca_due_at: int = 0
    rca_reviewed_by: str = ""
    rca_reviewed_at: int = 0
    phase_ts: dict[int, str] = {}
    steps: dict[str, StepState] = {}

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def name(self) -> str:
        return f"INC-{self.id}"

    def step(self, phase: int, index: int) -> StepState | None:
        return self.steps.get(f"{phase}:{index}")

    @classmethod
    def from_redis(cls, fields: dict[str, str], steps: dict[str, str]) -> Incident:
        data: dict[str, Any] = {k: v for k, v in fields.items() if not k.startswith("phase_ts:")}
        data["phase_ts"] = {int(k.split(":", 1)[1]): v for k, v in fields.items() if k.startswith("phase_ts:")}
        data["steps"] = {k: StepState.model_validate_json(v) for k, v in steps.items()}
        return cls.model_validate(data)


@dataclass(frozen=True)
class Event:
    """One timeline entry. `id` is ours, so a retried write is recognised and dropped."""

    type: str
    actor: str
    at: int
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stream_id: str = ""

    def fields(self) -> list[str]:
        return ["id", self.id, "type", self.type, "actor", self.actor, "at", str(self.at),
                "data", json.dumps(self.data, separators=(",", ":"))]

    @classmethod
    def from_stream(cls, stream_id: str, raw: dict[str, str]) -> Event:
        return cls(type=raw["type"], actor=raw.get("actor", ""), at=int(raw["at"]),
                   data=json.loads(raw.get("data") or "{}"), id=raw["id"], stream_id=stream_id)
