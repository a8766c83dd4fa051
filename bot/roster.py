"""ROSTER: playbook role → who answers for it in Slack, and optionally how to page them in PagerDuty.

Each role maps to a Slack user or user-group id (`"U0123ABCD"`), or to an object with that id and an Events
API v2 routing key (`{"slack": "S0PERFLEAD", "pagerduty": "<routing key>"}`). A routing key is a secret: it is
kept as a SecretStr and no error, message or log line ever repeats it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

SLACK_ID = re.compile(r"^[US][A-Z0-9]+$|^[US]_[A-Z0-9_]+$")
# The role names playbooks may use (playbook.RoleName); anything else could never be notified.
ROLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
# Events API v2 integration keys are 32 characters.
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
FIELDS = ("slack", "pagerduty")


class RosterEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    slack: str  # a user (U…) or user group (S…)
    pagerduty: SecretStr | None = None  # Events API v2 routing key

    @property
    def pageable(self) -> bool:
        return self.pagerduty is not None


Roster = dict[str, RosterEntry]


def parse_roster(value: Any) -> Roster:
    """Every entry checked; ValueError names the role and what is wrong, never a routing key."""
    if not isinstance(value, dict):
        raise ValueError('expected a JSON object, e.g. {"perf-lead": "U0123ABCD"}')
    return {str(role): _entry(str(role), target) for role, target in value.items()}


def _entry(role: str, target: Any) -> RosterEntry:
    if isinstance(target, RosterEntry):
        return target
    if not ROLE.match(role):
        raise ValueError(f"role {role[:60]!r}: a role name is lowercase letters, digits, - and _ (as in playbooks)")
    if isinstance(target, str):
        target = {"slack": target}
    if not isinstance(target, dict):
        raise ValueError(f"role {role!r}: expected a Slack id or an object with \"slack\" and \"pagerduty\"")
    unknown = sorted(str(k)[:30] for k in target if k not in FIELDS)
    if unknown:
        raise ValueError(f"role {role!r}: unknown key {unknown[0]!r} (expected \"slack\" and \"pagerduty\")")
    slack = target.get("slack")
    if not isinstance(slack, str) or not SLACK_ID.match(slack):
        shown = f" {slack[:30]!r}" if isinstance(slack, str) else ""
        raise ValueError(f"role {role!r}: slack{shown} should be a Slack user id (U…) or user-group id (S…)")
    key = target.get("pagerduty")
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    if key is not None and (not isinstance(key, str) or not ROUTING_KEY.match(key)):
        raise ValueError(f"role {role!r}: pagerduty should be the 32-character routing key of an Events API v2 "
                         "integration")
    return RosterEntry(slack=slack, pagerduty=SecretStr(key) if key is not None else None)
