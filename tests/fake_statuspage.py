"""A local fake of Atlassian Statuspage's REST API v1 (the incident endpoints the bot uses), on loopback.

It checks what the real API checks for these calls: the `Authorization: OAuth <key>` header, the page id,
the `{"incident": {...}}` envelope, a name on create and a known status, and answers with the incident
object. Every request is recorded; `fail_next` makes the next one answer with an error status.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slackfake.loopback import Loopback

STATUSES = frozenset({"investigating", "identified", "monitoring", "resolved"})


@dataclass
class Request:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeStatuspage(Loopback):
    api_key: str
    page_id: str
    requests: list[Request] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _fail: list[int] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/pages/{page}/incidents", self._create)
        app.router.add_patch("/v1/pages/{page}/incidents/{incident}", self._update)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int = 500) -> None:
        self._fail.append(status)

    async def _checked(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The request's incident fields, or the error answer the real API would give."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(Request(request.method, request.path, request.headers.get("Authorization", ""), body))
        if self._fail:
            return _error(self._fail.pop(0), "injected failure")
        if request.headers.get("Authorization") != f"OAuth {self.api_key}":
            return _error(401, "Could not authenticate")
        if request.match_info["page"] != self.page_id:
            return _error(404, "The requested resource could not be found.")
        if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
            return _error(400, "incident is missing")
        incident: dict[str, Any] = body["incident"]
        if "status" in incident and incident["status"] not in STATUSES:
            return _error(422, f"status is not one of {sorted(STATUSES)}")
        return incident

    async def _create(self, request: web.Request) -> web.Response:
        fields = await self._checked(request)
        if isinstance(fields, web.Response):
            return fields
        if not fields.get("name"):
            return _error(422, "name can't be blank")
        iid = f"sp{next(self._ids):04d}"
        incident = {"id": iid, "page_id": self.page_id, "name": fields["name"],
                    "status": fields.get("status", "investigating"), "incident_updates": []}
        self._add_update(incident, fields)
        self.incidents[iid] = incident
        return web.json_response(incident, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        fields = await self._checked(request)
        if isinstance(fields, web.Response):
            return fields
        incident = self.incidents.get(request.match_info["incident"])
        if incident is None:
            return _error(404, "The requested resource could not be found.")
        if "name" in fields:
            incident["name"] = fields["name"]
        if "status" in fields:
            incident["status"] = fields["status"]
        self._add_update(incident, fields)
        return web.json_response(incident)

    @staticmethod
    def _add_update(incident: dict[str, Any], fields: dict[str, Any]) -> None:
        if fields.get("body"):
            incident["incident_updates"].insert(0, {"status": incident["status"], "body": fields["body"]})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
