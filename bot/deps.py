"""What every handler needs, built once by the app factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.playbook import Playbook
from bot.settings import Settings
from bot.store import Store

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Deps:
    settings: Settings
    store: Store
    playbooks: dict[str, Playbook]
    clock: Clock = wall_clock_ms

    def book(self, key: str) -> Playbook | None:
        return self.playbooks.get(key)
