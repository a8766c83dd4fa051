"""Playbooks: what one is (its front matter, phases and steps), validated as it is read (bot/playbook_file.py)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from bot.durations import in_words, parse_duration

PHASES = ("assess", "diagnose", "mitigate", "resolve")
SEVERITIES = ("P0", "P1", "P2", "P3", "P4")
# One message holds a phase: 50 blocks, less the header, description, progress and action rows.
MAX_STEPS_PER_PHASE = 40
MAX_STEP_TEXT = 300
MAX_DETAIL = 2900

Severity = Annotated[str, Field(pattern=r"^P[0-4]$")]
RoleName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)]
# Prometheus label names.
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


def _label_value(value: str) -> str:
    """A label value to equal, or `~regex` to match the whole value; a regex that does not compile is an error."""
    if value.startswith("~"):
        try:
            re.compile(value[1:])
        except re.error as e:
            raise ValueError(f"{value!r} is not a valid regular expression ({e})") from None
    return value


LabelValue = Annotated[str, Field(max_length=500), AfterValidator(_label_value)]
# An alert matches when every listed label matches.
AlertMatcher = Annotated[dict[LabelName, LabelValue], Field(min_length=1)]


def _duration(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueError("write a duration with its unit, e.g. 15m (a bare number is ambiguous)")
    if not isinstance(v, str):
        raise ValueError("expected a duration such as 90s, 15m, 1h or 1w")
    return parse_duration(v)


# A duration written in front matter ("15m", "8h", "1w"), held as seconds.
Duration = Annotated[int, BeforeValidator(_duration)]

# What a response target is about, in the order of their index in the schedule.
TARGET_NAMES = ("acknowledge", "resolve")
# Who a target reminder mentions when the playbook does not say.
TARGET_NOTIFY_DEFAULT = ("incident-manager",)


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: Duration  # seconds after declaration
    notify: list[RoleName] = Field(min_length=1)
    message: str = Field(min_length=1, max_length=300)
    set_severity: Severity | None = None


class Targets(BaseModel):
    """Response targets counted from declaration; the bot reminds `notify` and the channel when one passes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledge: Duration | None = None  # met by the first step done, phase completed or escalation acknowledged
    resolve: Duration | None = None  # met by resolving
    notify: list[RoleName] = Field(default_factory=lambda: list(TARGET_NOTIFY_DEFAULT), min_length=1)

    @model_validator(mode="after")
    def _order(self) -> Targets:
        if self.acknowledge is not None and self.resolve is not None and self.acknowledge >= self.resolve:
            raise ValueError(f"the acknowledge target ({in_words(self.acknowledge)}) must come before the "
                             f"resolve target ({in_words(self.resolve)})")
        return self

    def seconds(self, index: int) -> int | None:
        """The target at `index` of TARGET_NAMES, in seconds after declaration, or None when not set."""
        value: int | None = getattr(self, TARGET_NAMES[index])
        return value

    def set(self) -> list[tuple[int, str, int]]:
        """(index, name, seconds) of every target the playbook sets."""
        return [(i, name, s) for i, name in enumerate(TARGET_NAMES) if (s := self.seconds(i)) is not None]


class Templates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    initial: str | None = None
    progress: str | None = None
    resolved: str | None = None
    rca: str | None = None


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,19}$")
    title: str = Field(min_length=1, max_length=100)
    summary: str = Field(default="", max_length=200)
    severity: Severity = "P2"
    responders: list[RoleName] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    targets: Targets = Field(default_factory=Targets)
    review_within: Duration | None = None  # the RCA is due this long after resolve; RCA_DUE_AFTER when unset
    templates: Templates = Field(default_factory=Templates)
    # Alerts (Alertmanager, Grafana) that open this playbook, and whether they declare or only suggest it.
    alerts: list[AlertMatcher] = Field(default_factory=list)
    alert_mode: Literal["declare", "suggest"] = "declare"

    @model_validator(mode="after")
    def _ascending(self) -> FrontMatter:
        afters = [level.after for level in self.escalation]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError("escalation levels must have strictly increasing `after` times")
        return self


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    detail: str = ""
    line: int


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # one of PHASES
    label: str  # heading as written, e.g. "Assess (0–60 min)"
    window: str  # the words after the phase name, e.g. "0–60 min"
    window_end: int | None  # seconds from the phase start when its target window ends
    description: str
    steps: tuple[Step, ...]

    @property
    def title(self) -> str:
        return self.name.capitalize()


class Playbook(BaseModel):
    model_config = ConfigDict(frozen=True)

    meta: FrontMatter
    phases: tuple[Phase, ...]
    path: str

    @property
    def key(self) -> str:
        return self.meta.key

    def roles(self) -> set[str]:
        roles = set(self.meta.responders)
        for level in self.meta.escalation:
            roles.update(level.notify)
        if self.meta.targets.set():
            roles.update(self.meta.targets.notify)
        return roles


# Words after /incident that are commands, not playbooks.
RESERVED_WORDS = frozenset(
    {"help", "note", "sev", "severity", "commander", "timeline", "resolve", "status", "rca", "list"}
)
