"""Prometheus metrics, served at GET /metrics. Names follow Prometheus's conventions: a unit suffix,
`_total` on counters, labels of bounded cardinality (playbook keys, phase names, Slack method names)."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

_MINUTES = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)

DECLARED = Counter("incidentbot_incidents_declared_total", "Incidents declared.", ["playbook", "source"])
RESOLVED = Counter("incidentbot_incidents_resolved_total", "Incidents resolved.", ["playbook"])
OPEN = Gauge("incidentbot_incidents_open", "Incidents open now (read from Redis: the same on every replica).",
             ["playbook"])
TIME_TO_ACKNOWLEDGE = Histogram(
    "incidentbot_time_to_acknowledge_seconds",
    "From declaration to the first check-off or escalation acknowledgement.", ["playbook"],
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200))
TIME_TO_RESOLVE = Histogram("incidentbot_time_to_resolve_seconds", "From declaration to resolution.",
                            ["playbook"], buckets=_MINUTES)
PHASE_DURATION = Histogram("incidentbot_phase_duration_seconds", "How long each phase lasted.",
                           ["playbook", "phase"], buckets=_MINUTES)
ESCALATIONS_SENT = Counter("incidentbot_escalations_sent_total", "Escalation pings posted.", ["playbook", "level"])
ESCALATION_LATENESS = Histogram("incidentbot_escalation_lateness_seconds",
                                "How long after its due time an escalation ping was claimed.",
                                buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
SLACK_REQUESTS = Counter("incidentbot_slack_requests_total", "Slack Web API calls by outcome (ok, Slack's error "
                         "code, ratelimited, unreachable), after the client's own retries.", ["method", "outcome"])
SLACK_SECONDS = Histogram("incidentbot_slack_request_seconds", "Slack Web API call duration, retries included.",
                          ["method"], buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
PAGERDUTY_EVENTS = Counter("incidentbot_pagerduty_events_total", "Events API v2 calls by action (trigger, "
                           "acknowledge, resolve) and outcome (ok, invalid, ratelimited, error, unreachable).",
                           ["action", "outcome"])
PAGERDUTY_WEBHOOKS = Counter("incidentbot_pagerduty_webhooks_total", "Signed PagerDuty webhook deliveries by "
                             "outcome (noted, duplicate, ignored).", ["outcome"])
ALERT_NOTIFICATIONS = Counter("incidentbot_alert_notifications_total", "Alert notifications received, by outcome: "
                              "queued (stored for processing), unmatched (no playbook), refused (auth or body).",
                              ["outcome"])
AFTER_ACK_WAIT = Histogram("incidentbot_after_ack_wait_seconds", "How long a listener's work after its ack waited "
                           "for the burst of requests it came in to be acked first.",
                           buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2))
BUTTON_ACK = Histogram("incidentbot_button_ack_seconds", "From a button click's request in to its ack out.",
                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


def set_open(counts: dict[str, int], playbooks: list[str]) -> None:
    """Every loaded playbook gets a value, so a playbook whose last incident closed reads 0, not stale."""
    for key in set(playbooks) | set(counts):
        OPEN.labels(playbook=key).set(counts.get(key, 0))


def exposition() -> bytes:
    return generate_latest(REGISTRY)
