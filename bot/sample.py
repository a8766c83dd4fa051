"""A made-up incident and timeline: `check` renders every template against them before a real incident does."""

from __future__ import annotations

from typing import Any

from bot.incident import Event, Incident
from bot.playbook import Playbook
from bot.workflows import rca, status

DECLARED_MS = 1_763_865_000_000  # 2025-11-23 02:30 UTC
MINUTE_MS = 60_000


def incident(**extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": "7", "playbook": "perf", "title": "Checkout p99 above 2 s", "severity": "P2",
        "service": "checkout-api", "description": "p99 latency went from 300 ms to 2.4 s; about 20 % of carts",
        "declared_by": "U_ALICE", "declared_at": DECLARED_MS, "commander": "U_ALICE", "channel_id": "C_INC",
        "status": "resolved", "phase": 4, "resolved_at": DECLARED_MS + 65 * MINUTE_MS, "resolved_by": "U_BOB",
        "cause": "A missing index on orders.created_at after the 14:00 migration",
        "resolution": "Added the index concurrently; p99 back to 310 ms", "status_updates": 2,
        "rca_status": "due", "rca_due_at": DECLARED_MS + 65 * MINUTE_MS + 86_400_000,
    }
    return Incident.model_validate({**fields, **extra})


def events() -> list[Event]:
    def at(minutes: int) -> int:
        return DECLARED_MS + minutes * MINUTE_MS

    return [
        Event("declared", "U_ALICE", at(0), {"title": "Checkout p99 above 2 s", "severity": "P2"}, id="e1"),
        Event("channel_created", "bot", at(0), {"channel": "C_INC", "name": "inc-20251123-perf-checkout"}, id="e2"),
        Event("note", "U_BOB", at(4), {"text": "Slow queries on orders since 14:02 & rising"}, id="e3"),
        Event("status_update", "U_ALICE", at(6), {"kind": "initial", "text": "[PERFORMANCE] investigating"},
              id="e4"),
        Event("escalated", "bot", at(15), {"level": 0, "message": "Page the Performance Engineering Lead"},
              id="e5"),
        Event("phase_completed", "U_ALICE", at(22), {"phase": 0}, id="e6"),
        Event("status_update", "U_ALICE", at(30), {"kind": "progress", "text": "[UPDATE] identified"}, id="e7"),
        Event("resolved", "U_BOB", at(65), {"cause": "missing index", "resolution": "added it"}, id="e8"),
    ]


def context_for(kind: str, book: Playbook | None = None) -> dict[str, Any]:
    """The context a real incident would give the template of `kind`."""
    inc = incident()
    now = inc.resolved_at + MINUTE_MS
    people = {"U_ALICE": "alice", "U_BOB": "bob"}
    if kind == "rca":
        return rca.context(inc, book, events(), people, now_ms=now, due_ms=inc.rca_due_at)
    return status.context(inc, book.meta.title if book else "Performance degradation", kind, now_ms=now,
                          eta="45 minutes")
