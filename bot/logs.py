"""Logging: human text or one JSON object per line, the incident and person a line is about, and no
secret in any line."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_incident: ContextVar[str] = ContextVar("incident", default="")
_playbook: ContextVar[str] = ContextVar("playbook", default="")
_user: ContextVar[str] = ContextVar("user", default="")

# Slack tokens (bot, user, app-level, config) and anything that looks like a bearer credential.
# The logger of slack_sdk's Web API client (AsyncWebClient's default).
SLACK_SDK_LOGGER = "slack_sdk.web.async_base_client"
_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+\S+|OAuth\s+\S+)")
# Secrets with no shape of their own (PagerDuty routing keys, webhook and signing secrets), by value.
_hidden: set[str] = set()


def hide(values: list[str]) -> None:
    """Never let these exact strings into a log line (short ones would only blank out ordinary words)."""
    _hidden.update(v for v in values if len(v) >= 8)


def redact(text: str) -> str:
    for value in _hidden:
        if value in text:
            text = text.replace(value, "[redacted]")
    return _SECRET.sub(lambda m: m.group(0)[:5] + "…[redacted]", text)


def bind(*, incident: str | None = None, playbook: str | None = None, user: str | None = None) -> None:
    """What the work in this task (and the tasks it starts) is about, for every log line it writes."""
    if incident is not None:
        _incident.set(incident)
    if playbook is not None:
        _playbook.set(playbook)
    if user is not None:
        _user.set(user)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        for name, var in (("incident", _incident), ("playbook", _playbook), ("user", _user)):
            value = var.get()
            if value and not hasattr(record, name):
                setattr(record, name, value)
        return True


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        about = " ".join(f"{k}={getattr(record, k)}" for k in ("incident", "playbook", "user") if hasattr(record, k))
        return f"{line} [{about}]" if about else line


def setup(level: str, fmt: str, secrets: list[str] | None = None) -> None:
    hide(secrets or [])
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    if fmt == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"asctime": "ts", "levelname": "level", "name": "logger",
                                                          "message": "msg"}))
    else:
        handler.setFormatter(_Text("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Bolt logs the body of every request that fails signature checks; nobody authenticated sent it.
    logging.getLogger("slack_bolt").setLevel(max(logging.WARNING, root.level))
    # slack_sdk tests its logger's own level (unset: 0), not the effective one, before formatting each request's
    # and answer's whole body for a debug line: without a level of its own that is done, and dropped, every call.
    logging.getLogger(SLACK_SDK_LOGGER).setLevel(root.level)
