"""All Redis access: handlers call the methods of `Store`, the one object the rest of the bot uses, and
nothing else talks to Redis. Its methods live in this package's modules, one idea each: `incidents` (an
incident's state), `timeline` (reading it), `parts` (drawing in Slack), `scheduled` (due items and their
claims), `pages` (PagerDuty), `alerts` (alert groups), over `base` (the link to Redis and its clock);
`results` holds what they hand back and `errors` what a Redis failure becomes."""

from __future__ import annotations

from bot.redis_conn import connect, connect_settings
from bot.store.alert_groups import AlertStore
from bot.store.base import new_token
from bot.store.drawing import PartStore
from bot.store.incidents import IncidentStore
from bot.store.pages import PageStore
from bot.store.results import Drawing, Outcome, PageRequest, Pages, Recorded
from bot.store.scheduled import ScheduleStore
from bot.store.timeline import TimelineStore

# Callers make the connection and the store together, and take the store's result types from here.
__all__ = ["Drawing", "Outcome", "PageRequest", "Pages", "Recorded", "Store", "connect", "connect_settings",
           "new_token"]


class Store(IncidentStore, TimelineStore, PartStore, ScheduleStore, PageStore, AlertStore):
    """Takes what `connect` (redis_conn.py) made of REDIS_URL, or a bare client (no write confirmation)."""
