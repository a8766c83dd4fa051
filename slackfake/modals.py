"""Modals: views.open and views.update, and the trigger ids that open them."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from slackfake.blockkit import check_view
from slackfake.webapi import SlackError, WebApi, refusal
from slackfake.workspace import APP_ID, BOT_ID, TEAM_ID

TRIGGER_TTL = 3.0


class ModalsApi(WebApi):
    def __init__(self) -> None:
        super().__init__()
        self._used_triggers: set[str] = set()
        self._issued_triggers: dict[str, float] = {}
        self._trigger_users: dict[str, str] = {}
        self.view_users: dict[str, str] = {}  # view id -> the person it was opened for (by their trigger id)

    def new_trigger_id(self, user: str = "") -> str:
        """A trigger id that expires 3 s from now, like Slack's (ids made up by tests never expire by time).
        With `user`, a view opened with it is theirs (`view_users`)."""
        trig = f"trig-{uuid.uuid4().hex}"
        self._issued_triggers[trig] = time.monotonic()
        if user:
            self._trigger_users[trig] = user
        return trig

    def _use_trigger(self, trigger: Any) -> None:
        if not isinstance(trigger, str) or not trigger:
            raise SlackError("invalid_arguments", detail="trigger_id is required")
        if not trigger.startswith("trig"):
            raise SlackError("invalid_trigger_id")
        issued = self._issued_triggers.get(trigger)
        if trigger in self._used_triggers or (issued is not None and time.monotonic() - issued > TRIGGER_TTL):
            raise SlackError("expired_trigger_id")
        self._used_triggers.add(trigger)  # used once, even if the view is then refused

    @staticmethod
    def _checked_view(view: Any) -> dict[str, Any]:
        if isinstance(view, str):
            raise SlackError("invalid_arguments", detail="view is not valid JSON")
        found = check_view(view)
        if found is not None:
            raise refusal(*found)
        return dict(view)

    def _store_view(self, view: dict[str, Any], *, view_id: str | None = None,
                    previous: str | None = None) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        root = self.views.get(vid, {}).get("root_view_id") or vid
        stored = {**copy.deepcopy(view), "id": vid, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID,
                  "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
                  "external_id": view.get("external_id", ""), "state": {"values": {}},
                  "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}", "root_view_id": root,
                  "previous_view_id": previous, "clear_on_close": bool(view.get("clear_on_close", False)),
                  "notify_on_close": bool(view.get("notify_on_close", False))}
        self.views[vid] = stored
        return {"view": copy.deepcopy(stored)}

    def api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = args.get("trigger_id")
        self._use_trigger(trigger)
        opened = self._store_view(self._checked_view(args.get("view")))
        user = self._trigger_users.pop(str(trigger), "")
        if user:
            self.view_users[opened["view"]["id"]] = user
        return opened

    def api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        vid, external = args.get("view_id"), args.get("external_id")
        if not vid and not external:
            raise SlackError("invalid_arguments", detail="view_id or external_id is required")
        current = self.views.get(vid) if vid else next(
            (v for v in self.views.values() if external and v.get("external_id") == external), None)
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._checked_view(args.get("view"))
        return self._store_view(view, view_id=current["id"], previous=current.get("previous_view_id"))
