"""Claims on scheduled work: where each item waits, when it is still wanted, how long a claim is surely ours.

A replica takes due items in batches (store.take_due): one script call moves a page of due members a lease
ahead, out of every other replica's sight, and one more checks each is still wanted and records this
replica as its owner. While the work runs, the scheduler's heartbeat renews every lease the replica holds
in one call (store.renew), only where it is still the owner. A replica that dies stops renewing: its items
fall due again within one lease. The lease is short (ESCALATION_LEASE_SECONDS, 3 s), so a crash delays a
ping by seconds, not by half a minute.

Locally each claim keeps `Lease.until`: the time (event-loop clock) by which Redis surely still holds it,
counted from when the claiming or renewing call was sent, so it never errs late. Nothing is posted on a
claim that was lost, or whose lease is too close to running out for the post to reach Slack before
another replica may take over.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from bot import keys
from bot.incident import RcaStatus, Status
from bot.playbook import TARGET_NAMES
from bot.schedule import Due, DueKind, PageAction
from bot.scripts import ClaimItem
from bot.unbroken import Served

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    """Where a scheduled item waits, and when it is still wanted: `live_field` == `live_value` and,
    when `met_field` is given, that field is not set yet (what the item reminds of has not happened)."""

    due_set: str
    live_field: str
    live_value: str
    met_field: str = ""
    live_key: str = ""  # the hash holding live_field; the incident's unless given


def wanted(due: Due) -> Wanted:
    if due.kind == DueKind.RCA:
        return Wanted(keys.rca_due(), "rca_status", RcaStatus.DUE)
    if due.kind == DueKind.TARGET and due.index == TARGET_NAMES.index("acknowledge"):
        return Wanted(keys.due(), "status", Status.OPEN, "acknowledged_at")
    if due.kind == DueKind.ALERT:
        return Wanted(keys.alert_due(), "queued", "1", live_key=keys.alert_group(due.incident_id))
    if due.kind == DueKind.PAGE:
        # A trigger only while the incident is open; PagerDuty must hear an acknowledgement or a resolve
        # whatever happens after it was queued (the incident's id never changes: always wanted).
        if due.action == PageAction.TRIGGER:
            return Wanted(keys.pages(), "status", Status.OPEN)
        return Wanted(keys.pages(), "id", due.incident_id)
    return Wanted(keys.due(), "status", Status.OPEN)


def claim_item(due: Due, reserved_score: str = "", due_score: str = "") -> ClaimItem:
    w = wanted(due)
    return ClaimItem(w.due_set, due.member, w.live_key or keys.incident(due.incident_id), w.live_field, w.live_value,
                     w.met_field, reserved_score, due_score)


# Every sorted set of scheduled work the scheduler claims from.
DUE_SETS = (keys.due(), keys.rca_due(), keys.pages(), keys.alert_due())


def loop_time() -> float:
    """The event loop's clock (monotonic): leases are measured with it, never with the wall clock."""
    return asyncio.get_running_loop().time()


@dataclass
class Lease:
    """How long a claim is surely ours, as far as this replica knows."""

    ms: int  # its length: each claim or renewal holds the item this long
    until: float = math.inf  # loop time by which Redis surely still holds it
    lost: bool = False  # a renewal found another owner, or the item gone

    def renewed(self, sent_at: float) -> None:
        """Redis renewed it in a call sent at `sent_at`: it holds at least a lease from then."""
        self.until = sent_at + self.ms / 1000

    def safe_to_post(self, now: float) -> bool:
        """A post started now reaches Slack well before another replica could take the item: at least a
        third of the lease is left (the heartbeat renews it every third)."""
        return not self.lost and now < self.until - self.ms / 3000


@dataclass(frozen=True)
class Claim:
    member: str
    owner: str
    attempt: int
    due_ms: int
    now_ms: int  # Redis time at the claim
    # No earlier attempt can have been lost from the attempt counter: a replica confirmed the claim (a failover
    # keeps it), or the server has kept every write since before the item fell due (bot/unbroken.py).
    kept: bool = False
    lease: Lease = field(default_factory=lambda: Lease(0), compare=False)

    @property
    def surely_first(self) -> bool:
        """No attempt came before this one, for sure: it need not look in Slack for an earlier post."""
        return self.attempt == 1 and self.kept


@dataclass(frozen=True)
class Taken:
    """What one batch claim took, and whether a due set gave a full page (more may be due at once)."""

    claims: list[tuple[Due, Claim]]
    full: bool


def reserved(res: Any) -> tuple[int, list[tuple[int, str, str]]]:
    """The reserve script's answer: (Redis now, [(due set index, member, due score)])."""
    flat = list(res[1:])
    return int(res[0]), [(int(flat[i]), str(flat[i + 1]), str(flat[i + 2])) for i in range(0, len(flat), 3)]


def outcomes(res: Any, dues: list[Due], owner: str, lease_ms: int, sent_at: float,
             replicated: bool = False, served: Served | None = None) -> list[Claim | None]:
    """The claim script's answer, item by item: a Claim where this replica won it, else None. `replicated`:
    a replica confirmed the script's write; `served`: what the server that ran it looked like."""
    now = int(res[0])
    out: list[Claim | None] = []
    for due, item in zip(dues, res[1:], strict=True):
        if item[0] != "claimed":
            if item[0] == "gave_up":
                log.error("giving up on %s after %s attempts", due.member, int(item[1]) - 1)
            out.append(None)
            continue
        lease = Lease(lease_ms)
        lease.renewed(sent_at)
        due_ms = int(float(item[2]))
        kept = replicated or (served is not None and served.kept_since(due_ms))
        out.append(Claim(member=due.member, owner=owner, attempt=int(item[1]), due_ms=due_ms, now_ms=now,
                         kept=kept, lease=lease))
    return out
