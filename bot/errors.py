"""The small error taxonomy. Each known failure carries the sentence a person should read."""

from __future__ import annotations

from typing import Any


class BotError(Exception):
    """A failure we can explain to the person who triggered it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.user_message = message


class ConfigError(BotError):
    """A setting, playbook or template is broken; start-up must stop."""


class StorageUnavailable(BotError):
    MESSAGE = ("The incident store (Redis) is unreachable right now, so nothing was changed. "
               "Please try again in a moment.")

    def __init__(self, reason: str = "") -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason  # for operators: refused, authentication, TLS… never a password


class NotSaved(StorageUnavailable):
    """A write reached Redis but could not be confirmed to stick (no replica has it, or it went to a primary
    that was just replaced): it may be lost, so the person must not read it as done."""

    MESSAGE = ("Your change may not have been saved: the incident store (Redis) could not confirm it, most likely "
               "because it is switching to its standby. Please try again in a moment.")


class NotAnIncidentChannel(BotError):
    def __init__(self) -> None:
        super().__init__(
            "This command works inside an incident channel. Run it there, or declare one with "
            "`/incident <playbook>`."
        )


class IncidentClosed(BotError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(
            f"Incident {incident_id} is already resolved, so that change was not applied. "
            "Declare a new incident if the problem is back."
        )


class IncidentGone(BotError):
    def __init__(self) -> None:
        super().__init__("That incident no longer exists, so nothing was changed.")


class BadInput(BotError):
    """Something a person typed can't be used; the message says what to type instead."""


def plain_reason(err: Any) -> str:
    """One pydantic validation error in plain words, without pydantic's own phrasing."""
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    words = {
        "missing": "is required but not set",
        "string_type": "should be text",
        "int_parsing": "should be a whole number",
        "int_type": "should be a whole number",
        "float_parsing": "should be a number",
        "float_type": "should be a number",
        "bool_parsing": "should be true or false",
        "list_type": "should be a list",
        "dict_type": "should be a mapping (key: value)",
        "extra_forbidden": "is not a known key",
        "json_invalid": "is not valid JSON",
    }
    if kind in words:
        return words[kind]
    if kind == "string_pattern_mismatch":
        return "has characters or a form that is not allowed"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind in ("string_too_short", "too_short"):
        return "is empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')}"
    if kind == "literal_error":
        return f"should be one of {ctx.get('expected')}"
    if kind in ("greater_than", "greater_than_equal"):
        return f"should be at least {ctx.get('gt', ctx.get('ge'))}"
    if kind in ("less_than", "less_than_equal"):
        return f"should be at most {ctx.get('lt', ctx.get('le'))}"
    message = str(err.get("msg", "is not valid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
