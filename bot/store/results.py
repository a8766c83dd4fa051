"""What the store hands back: the scripts' raw answers read into domain values (an incident's snapshot,
a click's `Outcome`, a part's `Drawing`, an alert delivery's `Recorded`, an incident's `Pages`), and the
`PageRequest` a caller hands in; an answer saying the incident is gone or closed becomes that error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import IncidentClosed, IncidentGone
from bot.incident import Incident, incident_name


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def snapshot(fields: list[Any], steps: list[Any]) -> Incident:
    return Incident.from_redis(_pairs(fields), _pairs(steps))


def drawing(res: Any) -> Drawing | None:
    return Drawing(snapshot(res[0], res[1]), str(res[2])) if res else None


def check(status: str, incident_id: str) -> None:
    if status == "gone":
        raise IncidentGone()
    if status == "closed":
        raise IncidentClosed(incident_name(incident_id))


@dataclass(frozen=True)
class Outcome:
    """What a check-off or an acknowledgement did."""

    # "ok"; or "same", "stale_phase" (a step); or "already", "not_sent", "dup" (an acknowledgement)
    status: str
    by: str = ""  # who had already acknowledged
    acknowledged_after_ms: int | None = None  # set when this was anyone's first response to the incident
    levels: tuple[int, ...] = ()  # escalation levels this acknowledgement marked


def outcome(res: Any, now_ms: int) -> Outcome:
    if res[0] == "ok":
        first = bool(res[1]) and res[2] is not None
        levels = tuple(int(x) for x in res[3]) if len(res) > 3 else ()
        return Outcome("ok", acknowledged_after_ms=now_ms - int(res[2]) if first else None, levels=levels)
    return Outcome(str(res[0]), by=str(res[1]) if len(res) > 1 and res[1] else "")


def stepped(res: Any, now_ms: int) -> tuple[Outcome, Drawing | None]:
    """step.lua's answer: what the click did, and the part to draw when its lock was taken."""
    if res[0] not in ("ok", "same"):
        return Outcome(str(res[0])), None
    first = bool(res[1]) and res[2] is not None
    return Outcome(str(res[0]), acknowledged_after_ms=now_ms - int(res[2]) if first else None), drawing(res[3])


@dataclass(frozen=True)
class Pages:
    """An incident's pages, by role: the dedup key PagerDuty knows each by, and what the latest page says."""

    keys: dict[str, str]
    reasons: dict[str, str]
    ack_sent: frozenset[str]  # roles whose acknowledgement in Slack the bot passed on to PagerDuty

    @classmethod
    def from_redis(cls, fields: dict[str, str]) -> Pages:
        by_kind: dict[str, dict[str, str]] = {}
        for field, value in fields.items():
            kind, _, role = field.partition(":")
            by_kind.setdefault(kind, {})[role] = value
        return cls(keys=by_kind.get("key", {}), reasons=by_kind.get("why", {}),
                   ack_sent=frozenset(by_kind.get("ack_sent", {})))


@dataclass(frozen=True)
class Drawing:
    """The state a part must be drawn from, while this caller holds its lock, and the digest of what
    Slack shows now (empty when unknown)."""

    incident: Incident
    shown_digest: str


@dataclass(frozen=True)
class Recorded:
    """What recording a delivery did: whether the incident took it, changed, and the notes it left to post."""

    linked: bool
    changed: bool
    notes: list[int]


@dataclass(frozen=True)
class PageRequest:
    """Page `role` through PagerDuty under the dedup key `key`, saying `why`."""

    role: str
    key: str
    why: str

    def as_json(self) -> dict[str, str]:
        return {"role": self.role, "key": self.key, "why": self.why}
