"""PagerDuty, both ways: the Events API v2 client (the bot pages, acknowledges and resolves) and the checks on
V3 webhooks (PagerDuty tells the bot someone acknowledged or resolved a page).

Nothing here logs. A routing key leaves only in the body of the request to PagerDuty: no answer, error or
message built here carries it, even when PagerDuty's own reply quotes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot import blocks, metrics
from bot.forms import clean
from bot.incident import Incident
from bot.mrkdwn import truncate
from bot.playbook import Playbook
from bot.roster import Roster
from bot.schedule import PageAction
from bot.store import PageRequest

TIMEOUT_S = 10.0
SUMMARY_MAX = 1024  # payload.summary
MESSAGE_MAX = 300  # how much of PagerDuty's reason for refusing an event people are shown
SOURCE = "incident-bot"
SEVERITY = {"P0": "critical", "P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
SIGNATURE_HEADER = "X-PagerDuty-Signature"
MAX_SIGNATURES = 10  # several while a secret rotates; more is not PagerDuty


def dedup_key(incident: Incident, role: str) -> str:
    """The key PagerDuty knows one role's page of one incident by: the same on every replica, every retry and
    after any restart. The declaration time keeps a Redis started afresh (or a second install sharing the
    PagerDuty service) from reusing an earlier INC-7's alerts. At most about 120 characters of PagerDuty's 255."""
    return f"{SOURCE}/{incident.name}/{incident.declared_at}/{role}"


def pageable(roster: Roster, roles: list[str]) -> list[str]:
    """The roles among `roles` that PagerDuty can page (a routing key in ROSTER)."""
    return [role for role in roles if (entry := roster.get(role)) is not None and entry.pageable]


def page_requests(roster: Roster, incident: Incident, roles: list[str], why: str) -> list[PageRequest]:
    return [PageRequest(role, dedup_key(incident, role), why) for role in pageable(roster, roles)]


def channel_link(channel_id: str) -> str:
    """Opens the channel in whichever Slack workspace the reader is signed in to."""
    return f"https://slack.com/app_redirect?channel={channel_id}"


def trigger_event(incident: Incident, book: Playbook | None, key: str, role: str, why: str) -> dict[str, Any]:
    """A trigger for one role's page (dedup key `key`): what the pager shows, and where to go."""
    phase = blocks.phase_name(incident, book) if book else ""
    # A private incident is announced without details; the page says as little (the channel tells the rest).
    title = "private incident" if incident.private else incident.title
    details = {"incident": incident.name, "title": title, "severity": incident.severity,
               "playbook": incident.playbook, "phase": phase, "role": role,
               "channel": f"#{incident.channel_name}" if incident.channel_name else incident.channel_id}
    payload: dict[str, Any] = {
        "summary": truncate(f"{incident.name} [{incident.severity}] {title}: {why}", SUMMARY_MAX),
        "source": incident.service or SOURCE,
        "severity": SEVERITY.get(incident.severity, "error"),
        "group": incident.playbook,
        "class": "incident",
        "custom_details": details,
    }
    if incident.service:
        payload["component"] = incident.service
    event: dict[str, Any] = {"event_action": PageAction.TRIGGER, "dedup_key": key, "payload": payload,
                             "client": SOURCE}
    if incident.channel_id:
        link = channel_link(incident.channel_id)
        event["client_url"] = link
        event["links"] = [{"href": link, "text": f"{details['channel']} in Slack"}]
    return event


def follow_up_event(action: PageAction, key: str) -> dict[str, Any]:
    """An acknowledge or resolve: PagerDuty needs only the dedup key."""
    return {"event_action": action, "dedup_key": key}


class Outcome(StrEnum):
    OK = "ok"  # 202: PagerDuty took it
    INVALID = "invalid"  # 400 (or another 4xx): retrying can't help
    RATELIMITED = "ratelimited"  # 429: retry later
    ERROR = "error"  # 5xx: retry later
    UNREACHABLE = "unreachable"  # no answer in time, or no connection: retry later


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str = ""  # in words, for people: PagerDuty's own message for a refused event

    @property
    def retry(self) -> bool:
        return self.outcome in (Outcome.RATELIMITED, Outcome.ERROR, Outcome.UNREACHABLE)


async def send(url: str, routing_key: SecretStr, event: dict[str, Any]) -> Answer:
    """POST one event to the Events API; never raises for what PagerDuty or the network does."""
    key = routing_key.get_secret_value()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
            async with session.post(url, json={"routing_key": key, **event}) as resp:
                status, text = resp.status, await resp.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as e:
        answer = Answer(Outcome.UNREACHABLE, f"PagerDuty could not be reached ({type(e).__name__})")
    else:
        answer = _answer(status, text.replace(key, "[routing key]"))
    metrics.PAGERDUTY_EVENTS.labels(action=str(event["event_action"]), outcome=answer.outcome).inc()
    return answer


def _answer(status: int, text: str) -> Answer:
    if 200 <= status < 300:
        return Answer(Outcome.OK)
    if status == 429:
        return Answer(Outcome.RATELIMITED, "PagerDuty asked to slow down (429)")
    if 400 <= status < 500:
        return Answer(Outcome.INVALID, f"{_message(text)} ({status})")
    return Answer(Outcome.ERROR, f"PagerDuty answered {status}")


def _message(text: str) -> str:
    """PagerDuty's reason, e.g. "Event object is invalid: 'payload.summary' is missing", in one short line."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        parts = [str(body.get("message") or "PagerDuty refused the event")]
        if isinstance(errors, list) and errors:
            parts.append("; ".join(str(e) for e in errors[:5]))
        text = ": ".join(parts)
    return truncate(" ".join(clean(text).split()), MESSAGE_MAX) or "PagerDuty refused the event"


# ---------------------------------------------------------------- webhooks (V3)


def signed(secret: bytes, raw: bytes, header: str) -> bool:
    """Any of the header's `v1=<hex>` signatures is the HMAC-SHA256 of the exact bytes received."""
    expected = b"v1=" + hmac.new(secret, raw, hashlib.sha256).hexdigest().encode()
    candidates = [c.strip().encode("utf-8", "replace") for c in header.split(",")[:MAX_SIGNATURES]]
    return any(hmac.compare_digest(expected, c) for c in candidates)


class Agent(BaseModel):
    model_config = ConfigDict(frozen=True)

    summary: str | None = None  # the person's name


class WebhookEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(max_length=100)
    agent: Agent | None = None
    data: dict[str, Any] = Field(default_factory=dict)  # the incident, for incident.* events

    @property
    def incident_key(self) -> str | None:
        """For an incident the bot triggered, the dedup key it sent."""
        key = self.data.get("incident_key")
        return key if isinstance(key, str) and 0 < len(key) <= 255 else None

    @property
    def agent_name(self) -> str:
        name = clean((self.agent.summary if self.agent else None) or "")
        return truncate(name, 100) or "Someone"


class Webhook(BaseModel):
    model_config = ConfigDict(frozen=True)

    event: WebhookEvent
