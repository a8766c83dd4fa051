"""Claims on scheduled work, and how long each is surely ours.

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

from bot.schedule import Due

log = logging.getLogger(__name__)


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
    lease: Lease = field(default_factory=lambda: Lease(0), compare=False)


@dataclass(frozen=True)
class Taken:
    """What one batch claim took, and whether a due set gave a full page (more may be due at once)."""

    claims: list[tuple[Due, Claim]]
    full: bool


def reserved(res: Any) -> tuple[int, list[tuple[int, str, str]]]:
    """The reserve script's answer: (Redis now, [(due set index, member, due score)])."""
    flat = list(res[1:])
    return int(res[0]), [(int(flat[i]), str(flat[i + 1]), str(flat[i + 2])) for i in range(0, len(flat), 3)]


def outcomes(res: Any, dues: list[Due], owner: str, lease_ms: int, sent_at: float) -> list[Claim | None]:
    """The claim script's answer, item by item: a Claim where this replica won it, else None."""
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
        out.append(Claim(member=due.member, owner=owner, attempt=int(item[1]), due_ms=int(float(item[2])),
                         now_ms=now, lease=lease))
    return out
