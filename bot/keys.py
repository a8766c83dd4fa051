"""Every Redis key the bot uses, built here and nowhere else.

All keys share the hash tag `{ib}` so multi-key scripts work on Redis Cluster too.
Incident data is kept forever (it is the audit trail); only idempotency and lock keys expire.
"""

from __future__ import annotations

PREFIX = "{ib}:"


def incident_seq() -> str:
    """Counter giving incident numbers. Forever."""
    return f"{PREFIX}seq"


def incident(incident_id: str) -> str:
    """Hash: the incident's fields (title, severity, status, phase, channel, version…). Forever."""
    return f"{PREFIX}incident:{incident_id}"


def steps(incident_id: str) -> str:
    """Hash: "phase:step" -> JSON {state, by, at} for steps done or skipped. Forever."""
    return f"{PREFIX}steps:{incident_id}"


def timeline(incident_id: str) -> str:
    """Stream: the incident's timeline, never trimmed. Forever."""
    return f"{PREFIX}timeline:{incident_id}"


def timeline_seen(incident_id: str) -> str:
    """Set: event ids already on the timeline, so a retried write adds nothing. Forever."""
    return f"{PREFIX}timeline-seen:{incident_id}"


def channel(channel_id: str) -> str:
    """String: incident id of an incident channel. Forever."""
    return f"{PREFIX}channel:{channel_id}"


def clock_offset() -> str:
    """String: milliseconds the sandbox moved the clock ahead ("Skip ahead 15 minutes"), added to Redis TIME by
    every script (`now_ms` in lua/_common.lua) and by the sandbox's Python clock. Only the sandbox, on its own
    embedded Redis, ever writes it: a deployment never has it. Forever (as long as the sandbox's Redis)."""
    return f"{PREFIX}clock-offset"


def server_since() -> str:
    """Hash {run_id, replid, since}: the Redis server process and replication history a replica of the bot saw
    as primary, and the Redis time (now_ms) when it first did (bot/unbroken.py). Forever (one hash)."""
    return f"{PREFIX}server-since"


def reserved_due() -> str:
    """Sorted set: member -> the due score an item had when reserve.lua moved it a lease ahead, until its claim
    copies it into the job hash. A reserve kept without its claim (a crash, or a failover that lost the claim)
    must not make the item look due later than it was (bot/unbroken.py counts on the due time)."""
    return f"{PREFIX}reserved-due"


def ready_probe() -> str:
    """String: written by /readyz to prove the server takes writes. Expires after 10 s."""
    return f"{PREFIX}ready-probe"


def open_incidents() -> str:
    """Set: ids of incidents not yet resolved."""
    return f"{PREFIX}open"


def open_by_playbook() -> str:
    """Hash: playbook key -> how many of its incidents are open (the open-incidents gauge)."""
    return f"{PREFIX}open-by-playbook"


def without_channel() -> str:
    """Sorted set: incidents stored whose channel is not linked yet, score = when stored (ms). The sweep sets up
    those left behind (the replica declaring them died, or Redis went away for long)."""
    return f"{PREFIX}without-channel"


def setting_up(incident_id: str) -> str:
    """String: set while one request sets an incident's channel up, so a repeated submit does not make a second.
    Expires after a few minutes."""
    return f"{PREFIX}setting-up:{incident_id}"


def view(view_id: str) -> str:
    """String: JSON of what a modal we opened is for (incident id, response_url), checked when it is submitted.
    Expires after a day."""
    return f"{PREFIX}view:{view_id}"


def idem(scope: str, token: str) -> str:
    """String: marks a request already handled (a modal submit). Expires after a day."""
    return f"{PREFIX}idem:{scope}:{token}"


def rendered(incident_id: str) -> str:
    """Hash: part -> incident version Slack shows, and "part#" -> digest of what was sent. Forever."""
    return f"{PREFIX}rendered:{incident_id}"


def dirty_attempts() -> str:
    """Hash: dirty member -> failed draws in a row; the part is given up past a limit."""
    return f"{PREFIX}dirty-attempts"


def posting(incident_id: str, part: str) -> str:
    """String: a part's first post is under way. Lives as long as a post may take."""
    return f"{PREFIX}posting:{incident_id}:{part}"


def render_lock(incident_id: str, part: str) -> str:
    """String: which caller is drawing one part (a message, the topic) right now. Short lease (seconds)."""
    return f"{PREFIX}render-lock:{incident_id}:{part}"


def dirty() -> str:
    """Sorted set: parts that may not show the stored state, member "incident|part", score = ms when marked.
    Removed once the part is drawn at the newest version; the sweep redraws what stays."""
    return f"{PREFIX}dirty"


def due() -> str:
    """Sorted set: scheduled work (escalations, reminders), member "kind|incident|n", score = due ms."""
    return f"{PREFIX}due"


def job(member: str) -> str:
    """Hash: claim state of a scheduled item (owner, attempts, sent). Deleted when done."""
    return f"{PREFIX}job:{member}"


def pages() -> str:
    """Sorted set: PagerDuty events waiting to be sent, member "page|incident|action|role", score = ms when to
    (re)try. Removed once PagerDuty took the event, refused it for good, or it was given up."""
    return f"{PREFIX}pages"


def pager(incident_id: str) -> str:
    """Hash: the incident's pages, per role: "key:<role>" -> the dedup key PagerDuty knows it by (set with the
    first page), "why:<role>" -> what the latest page says, "ack_sent:<role>" -> "1" once the bot told
    PagerDuty about an acknowledgement from Slack. Forever."""
    return f"{PREFIX}pager:{incident_id}"


def pager_index() -> str:
    """Hash: dedup key -> "incident|role", to find the incident a PagerDuty webhook is about. Forever."""
    return f"{PREFIX}pager-index"


def rca_due() -> str:
    """Sorted set: RCA review reminders, member "rca|incident|0", score = due ms. Removed when sent or the
    RCA is reviewed. Apart from `due`, which only ever holds work of open incidents."""
    return f"{PREFIX}rca-due"


def alert_group(group: str) -> str:
    """Hash: one alert group (`group` hashes Alertmanager's groupKey): its groupKey, delivery counter, current
    incident, whether a delivery is queued, the alert list, the "all resolved" note flag, a pending suggestion.
    Expires 30 days after its last delivery."""
    return f"{PREFIX}alert-group:{group}"


def alert_seen(group: str) -> str:
    """Set: "fingerprint|startsAt|status" of every alert state recorded for the group's current incident (or
    suggestion), so a re-send records nothing. Emptied when the next incident starts; expires with the group."""
    return f"{PREFIX}alert-seen:{group}"


def alert_inbox(group: str) -> str:
    """Sorted set: deliveries of a group not yet processed, member "seq|json", score = seq. Trimmed once
    processed; expires with the group."""
    return f"{PREFIX}alert-inbox:{group}"


def alert_due() -> str:
    """Sorted set: alert groups with deliveries to process, member "alert|group|0", score = when (ms)."""
    return f"{PREFIX}alert-due"
