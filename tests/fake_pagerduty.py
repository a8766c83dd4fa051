"""A local fake of PagerDuty on loopback: the Events API v2 (`POST /v2/enqueue`) and signed V3 webhooks.

The endpoint checks what the real one checks for an event: a 32-character `routing_key`, a known
`event_action`, a `dedup_key` of at most 255 characters, and for a trigger a `payload` with a `summary` of at
most 1,024 characters, a `source` and a known `severity`. It answers as PagerDuty does: 202
`{"status": "success", "message": "Event processed", "dedup_key": …}`, or 400 with `message` and `errors`.
It keeps each alert's state by dedup key (triggered, acknowledged, resolved), records every request with its
answer, and answers the next requests with an error on demand (`fail_next(429)`, `fail_next(500)`,
`fail_next(400)`; an injected 400 quotes the routing key, as a careless service might).

`webhook()` builds a V3 delivery and `signature()` signs it, as a webhook subscription does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slackfake.loopback import Loopback

ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
SEVERITIES = frozenset({"critical", "error", "warning", "info"})
STATES = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class Received:
    body: Any
    status: int  # what the fake answered

    @property
    def action(self) -> str:
        return str(self.body.get("event_action")) if isinstance(self.body, dict) else ""

    @property
    def dedup_key(self) -> str:
        return str(self.body.get("dedup_key")) if isinstance(self.body, dict) else ""

    @property
    def accepted(self) -> bool:
        return self.status == 202


@dataclass
class FakePagerDuty(Loopback):
    requests: list[Received] = field(default_factory=list)
    alerts: dict[str, str] = field(default_factory=dict)  # dedup key -> triggered | acknowledged | resolved
    _fail: list[int] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    @property
    def url(self) -> str:
        """What PAGERDUTY_EVENTS_URL points at."""
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    def fail_next(self, status: int, *, times: int = 1) -> None:
        self._fail += [status] * times

    def accepted(self, action: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.accepted and (action is None or r.action == action)]

    async def _enqueue(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        status, answer = self._answer(body)
        self.requests.append(Received(body, status))
        return web.json_response(answer, status=status)

    def _answer(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return _invalid("Event object is invalid", ["body is not a JSON object"])
        if self._fail:
            status = self._fail.pop(0)
            if status == 429:
                return 429, {"status": "throttle event",
                             "message": "Requests for this service are arriving too quickly. Please retry later."}
            if status == 400:
                return _invalid("Event object is invalid", [f"Invalid routing key {body.get('routing_key')}"])
            return status, {"status": "error", "message": "Internal Server Error"}
        problems = _problems(body)
        if problems:
            return _invalid("Event object is invalid", problems)
        key, action = str(body["dedup_key"]), str(body["event_action"])
        if action == "trigger" or key in self.alerts:
            self.alerts[key] = STATES[action]
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


def _problems(body: dict[str, Any]) -> list[str]:
    problems = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if body.get("event_action") not in ACTIONS:
        problems.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if not isinstance(dedup, str) or not 0 < len(dedup) <= 255:
        problems.append("'dedup_key' must be a string of at most 255 characters")
    if body.get("event_action") == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return problems + ["'payload' is missing or not an object"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            problems.append("'payload.summary' is missing or longer than 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("'payload.source' is missing")
        if payload.get("severity") not in SEVERITIES:
            problems.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
    return problems


def _invalid(message: str, errors: list[str]) -> tuple[int, dict[str, Any]]:
    return 400, {"status": "invalid event", "message": message, "errors": errors}


def webhook(event_type: str, incident_key: str, *, agent: str | None = "Dana Scully",
            event_id: str | None = None) -> bytes:
    """A V3 delivery about the incident PagerDuty made from the events with `incident_key`."""
    event = {
        "id": event_id or "01" + uuid.uuid4().hex[:24].upper(),
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": "2025-11-23T03:12:45.000Z",
        "agent": {"id": "PUSER01", "type": "user_reference", "summary": agent} if agent is not None else None,
        "client": None,
        "data": {"id": "Q1ABCDEF", "type": "incident", "number": 42, "status": event_type.split(".")[-1],
                 "incident_key": incident_key, "title": "paged by incident-bot", "urgency": "high",
                 "html_url": "https://example.pagerduty.com/incidents/Q1ABCDEF",
                 "service": {"id": "PSERVICE", "type": "service_reference", "summary": "Performance"}},
    }
    return json.dumps({"event": event}).encode()


def signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
