"""The small error taxonomy. Each known failure carries the sentence a person should read."""

from __future__ import annotations


class BotError(Exception):
    """A failure we can explain to the person who triggered it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.user_message = message


class ConfigError(BotError):
    """A setting, playbook or template is broken; start-up must stop."""


class StorageUnavailable(BotError):
    def __init__(self) -> None:
        super().__init__(
            "The incident store (Redis) is unreachable right now, so nothing was changed. "
            "Please try again in a moment."
        )


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
