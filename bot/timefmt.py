"""Times as status updates and the RCA print them: UTC, to the minute, the same for every reader."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

DAY_S = 86_400
DAY_MS = DAY_S * 1000


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def utc_date(ms: int) -> str:
    return _date_of_day(ms // DAY_MS)


@functools.lru_cache(maxsize=64)
def _date_of_day(day: int) -> str:
    # An RCA prints a date for each of thousands of events, most on the same few days.
    return datetime.fromtimestamp(day * DAY_S, UTC).strftime("%Y-%m-%d")


def utc_clock(ms: int) -> str:
    minute = ms // 60_000 % 1440  # UTC has no leap seconds in Unix time: whole days of 1440 minutes
    return f"{minute // 60:02d}:{minute % 60:02d}"
