"""Whether the Redis server that ran a claim has kept every write made to it since before the item fell due.

An escalation's first attempt need not look in Slack's history for an earlier post when no earlier attempt
can have been lost. A claim's attempt counter is lost only with the writes around it: a restart that reloads
an older copy, a failover to a replica that lagged, a full resync that replaced the data. Each of those gives
the server a new identity in INFO: a restart a new `run_id`; a promotion, a resync and a restart a new
`master_replid`. So the scheduler records the pair it finds on the primary, with the Redis time it first saw
it (lua/server_since.lua), and every claim reads INFO and the record on the connection that ran it, in the
same round trip. When INFO still names the recorded pair, the server has been that primary, holding all its
writes, since the record's time; an item due after that (plus SKEW_MS, for two servers' clocks) cannot have
been claimed anywhere else before, so its attempt 1 is surely the first.

Not seen: two servers taking writes at once behind one address (a split brain, which defeats a replica's
WAIT just the same); an operator's FLUSHALL, DEBUG RELOAD, SWAPDB or a backup restored into the running
process; a maxmemory policy that evicts keys; and a proxy that answers INFO itself for servers it fails over
between (REDIS_TRUST_INFO=false turns the look off there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline

from bot import keys
from bot.replication import Also

# The most two Redis servers' clocks may disagree: an item due this soon after the record could have been
# claimed on the server before (whose clock ran ahead), so it still looks in Slack.
SKEW_MS = 10_000
_RECORD = ("run_id", "replid", "since")


@dataclass(frozen=True)
class Served:
    """The server that answered: its process, its replication history, whether it is the primary, and since
    when (Redis time, ms) the record says it has been all three; None when the record names another."""

    run_id: str
    replid: str
    primary: bool
    since_ms: int | None

    def kept_since(self, due_ms: int) -> bool:
        """Every claim of an item due at `due_ms` was made on this server and is still here."""
        return self.primary and self.since_ms is not None and self.since_ms + SKEW_MS <= due_ms

    @property
    def unrecorded(self) -> bool:
        """A primary the record does not name yet (it was just started or promoted)."""
        return self.primary and bool(self.run_id and self.replid) and self.since_ms is None


def queue(pipe: Pipeline) -> None:
    """Queue the look at the server, in the pipeline of the commands it vouches for (same connection)."""
    pipe.execute_command("INFO", "server")
    pipe.execute_command("INFO", "replication")
    pipe.execute_command("HMGET", keys.server_since(), *_RECORD)


# The look, as the claim queues it after its script.
LOOK = Also(queue, 3)
NOTHING = Served("", "", False, None)  # what a server that refused the look (an ACL without INFO) vouches for


def served(answers: Sequence[Any]) -> Served:
    """What `queue`'s answers (raw: no response callbacks) say; NOTHING when a command was refused."""
    if any(isinstance(a, Exception) for a in answers):
        return NOTHING
    info = _fields(answers[0]) | _fields(answers[1])
    run_id, replid = info.get("run_id", ""), info.get("master_replid", "")
    seen_run, seen_replid, since = (_text(x) for x in answers[2])
    named = bool(run_id) and (seen_run, seen_replid) == (run_id, replid) and since is not None
    # A plain server (not a Cluster node, nor a sentinel or a proxy answering in its own way).
    primary = info.get("role") == "master" and info.get("redis_mode") == "standalone"
    return Served(run_id, replid, primary, _ms(since) if named else None)


def _ms(raw: str | None) -> int | None:
    """The record's time; None when it is not a number (then nothing is vouched for, and it is written again)."""
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _text(raw: Any) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else None if raw is None else str(raw)


def _fields(raw: Any) -> dict[str, str]:
    """INFO's `name:value` lines (or redis-py's reading of them, where a response callback ran)."""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    out = {}
    for line in (_text(raw) or "").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name] = value.strip()
    return out
