"""Durations as people write them in playbooks: 90s, 15m, 1h, 1h30m."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)\s*(h|m|s)")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[hms]\s*)+$")
_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in `text`; raises ValueError with the accepted forms."""
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 15m, 1h or 1h30m")
    seconds = sum(int(n) * _UNIT[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


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
