"""Durations as people write them in playbooks (90s, 15m, 1h, 1h30m, 1w), and as the bot writes them back."""

from __future__ import annotations

import re

# One amount of time as people write it: "90s", "15m", "1h", "60 min", "1.5 hours", "2 d".
_AMOUNT = r"(\d+(?:\.\d+)?)\s*(min|minutes?|m|s|secs?|seconds?|h|hours?|hrs?|d|days?|w|weeks?)(?![a-z])"
_AMOUNTS = re.compile(_AMOUNT, re.IGNORECASE)
_ONLY_AMOUNTS = re.compile(rf"^\s*(?:{_AMOUNT}\s*)+$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _seconds(number: str, unit: str) -> int:
    key = unit.lower()
    return int(float(number) * _UNIT_SECONDS["m" if key.startswith("mi") else key[0]])


def parse_duration(text: str) -> int:
    """Seconds in `text` (a playbook's `after:`); raises ValueError with the accepted forms."""
    if not _ONLY_AMOUNTS.match(text):
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 15m, 1h or 1h30m")
    seconds = sum(_seconds(n, u) for n, u in _AMOUNTS.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def window_end_seconds(window: str) -> int | None:
    """When a phase's target window such as "0–60 min" or "1–3 h" ends, in seconds after declaration.

    The last amount wins ("45 min–2 h" ends at 2 h); an open end ("4 h+") has none.
    """
    if window.rstrip().endswith("+"):
        return None
    amounts = _AMOUNTS.findall(window)
    return _seconds(*amounts[-1]) if amounts else None


def format_duration(seconds: float) -> str:
    """Short human form: 45s, 15m, 1h 05m, 2d 3h."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


_WORDS = ((604800, "week"), (3600, "hour"), (60, "minute"), (1, "second"))


def in_words(seconds: float) -> str:
    """A whole duration in the largest unit that divides it: 1 week, 48 hours, 30 minutes, 90 seconds."""
    s = int(max(0, seconds))
    for size, unit in _WORDS:
        if s >= size and s % size == 0:
            n = s // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "0 seconds"
