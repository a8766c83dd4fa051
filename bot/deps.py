"""What every handler needs, built once by the app factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.playbook import Playbook
from bot.settings import Settings
from bot.slack_client import make_client
from bot.store import Store
from bot.templating import Templates

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Deps:
    settings: Settings
    store: Store
    playbooks: dict[str, Playbook]
    clock: Clock = wall_clock_ms
    # Compiled once at start-up (main passes the set `check` already rendered); built here if not given.
    templates: Templates = field(default=None)  # type: ignore[assignment]
    # One Web API client for the process: Bolt's listeners, the scheduler and the workflows share it.
    client: AsyncWebClient = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.templates is None:
            self.templates = Templates.load(self.settings.templates_dir, self.playbooks)
        if self.client is None:
            self.client = make_client(self.settings)

    def book(self, key: str) -> Playbook | None:
        return self.playbooks.get(key)
