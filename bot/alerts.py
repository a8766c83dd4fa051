"""Alert notifications in: Alertmanager's webhook body (Grafana's is the same shape), which playbook a group
belongs to, and the compact delivery the bot stores. Pure: no I/O, no clock."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import plain_reason
from bot.forms import DESCRIPTION_MAX, SERVICE_MAX, TITLE_MAX, clean
from bot.incident import AlertRow
from bot.mrkdwn import truncate
from bot.playbook import Playbook

# Alertmanager sends "4"; Grafana's unified alerting sends the same shape as "1".
VERSIONS = ("4", "1")
# The label that names a playbook outright.
PLAYBOOK_LABEL = "playbook"
NAME_MAX, SUMMARY_MAX, URL_MAX, STARTS_MAX = 100, 200, 500, 40
_FINGERPRINT = re.compile(r"^[A-Za-z0-9]{1,64}$")

Labels = dict[str, str]
Status = Literal["firing", "resolved"]


class AlertIn(BaseModel):
    """One alert of a notification; Grafana's extra fields (values, silenceURL…) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Status
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""


class Notification(BaseModel):
    """The webhook body, version 4 (Grafana's extra orgId, state, title, message are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    groupKey: str = Field(min_length=1)
    status: Status
    receiver: str
    groupLabels: Labels
    commonLabels: Labels
    commonAnnotations: Labels
    externalURL: str
    alerts: list[AlertIn] = Field(min_length=1)
    truncatedAlerts: int = 0


class Delivery(BaseModel):
    """What the bot keeps of one notification until a replica has processed it."""

    model_config = ConfigDict(frozen=True)

    status: Status
    alerts: list[AlertRow]
    playbook: str
    title: str
    service: str = ""
    description: str = ""
    url: str = ""  # externalURL: the Alertmanager (or Grafana) that sent it

    @property
    def firing(self) -> list[AlertRow]:
        return [a for a in self.alerts if a.status == "firing"]


class BadNotification(ValueError):
    """Not a notification of the v4 shape; the message is one line saying why."""


def parse(data: object) -> Notification:
    if not isinstance(data, dict):
        raise BadNotification("expected a JSON object (Alertmanager's webhook body)")
    try:
        notification = Notification.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise BadNotification(f"{where}: {plain_reason(err)}") from None
    if notification.version not in VERSIONS:
        raise BadNotification(f"version: expected 4 (Alertmanager) or 1 (Grafana), got {notification.version[:10]!r}")
    return notification


def group_id(group_key: str) -> str:
    """A short, key-safe name for an alert group (Alertmanager's groupKey can be long and hold any character)."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:32]


def matches(matcher: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every listed label equals its value; a value starting with `~` is a regular expression that must match
    the whole label value. A label the alert lacks counts as empty, as in Prometheus."""
    for name, want in matcher.items():
        have = labels.get(name, "")
        if want.startswith("~"):
            if re.fullmatch(want[1:], have) is None:
                return False
        elif have != want:
            return False
    return True


def choose_playbook(books: Mapping[str, Playbook], label_sets: Iterable[Mapping[str, str]]) -> Playbook | None:
    """The playbook for a group of alerts: a `playbook` label naming a loaded playbook wins; otherwise the first
    label set (alert) that any matcher fits decides, the most specific matcher (most labels) first, then the
    playbook key in alphabetical order."""
    sets = list(label_sets)
    for labels in sets:
        named = books.get(labels.get(PLAYBOOK_LABEL, ""))
        if named is not None:
            return named
    for labels in sets:
        best: tuple[int, str] | None = None
        for key, book in books.items():
            for matcher in book.meta.alerts:
                if matches(matcher, labels) and (best is None or (-len(matcher), key) < best):
                    best = (-len(matcher), key)
        if best is not None:
            return books[best[1]]
    return None


def label_sets(notification: Notification) -> list[Labels]:
    """Firing alerts first, in the order sent, then resolved ones, then the labels they share."""
    ordered = sorted(notification.alerts, key=lambda a: a.status != "firing")
    return [a.labels for a in ordered] + [notification.commonLabels]


def safe_url(url: str) -> str:
    """An http(s) URL that cannot break out of a Slack link (`<url|label>`), or "" when it is not one."""
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) > URL_MAX or any(c.isspace() for c in url):
        return ""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return ""
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def _text(value: str, limit: int) -> str:
    return truncate(" ".join(clean(value).split()), limit)


def fingerprint(alert: AlertIn) -> str:
    """Alertmanager's fingerprint (stable per label set), or one made the same way from the labels."""
    if _FINGERPRINT.match(alert.fingerprint):
        return alert.fingerprint
    flat = "\n".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return hashlib.sha256(flat.encode()).hexdigest()[:16]


def row(alert: AlertIn) -> AlertRow:
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return AlertRow(fp=fingerprint(alert), name=_text(alert.labels.get("alertname", ""), NAME_MAX) or "alert",
                    summary=_text(summary, SUMMARY_MAX), status=alert.status, url=safe_url(alert.generatorURL),
                    starts=_text(alert.startsAt, STARTS_MAX))


def title(notification: Notification) -> str:
    """commonAnnotations.summary, else the first alert's summary, else its alertname."""
    ordered = sorted(notification.alerts, key=lambda a: a.status != "firing")
    first = ordered[0]
    for candidate in (notification.commonAnnotations.get("summary", ""), first.annotations.get("summary", ""),
                      notification.commonLabels.get("alertname", ""), first.labels.get("alertname", "")):
        text = _text(candidate, TITLE_MAX)
        if text:
            return text
    return "Alert"


def delivery(notification: Notification, book: Playbook) -> Delivery:
    rows: dict[str, AlertRow] = {}
    for alert in notification.alerts:  # one row per fingerprint; the last one sent wins
        shown = row(alert)
        rows[shown.fp] = shown
    common, first = notification.commonLabels, notification.alerts[0]
    description = notification.commonAnnotations.get("description") or first.annotations.get("description") or ""
    return Delivery(status=notification.status, playbook=book.key, title=title(notification),
                    service=_text(common.get("service") or first.labels.get("service", ""), SERVICE_MAX),
                    description=truncate(clean(description, multiline=True), DESCRIPTION_MAX),
                    url=safe_url(notification.externalURL), alerts=list(rows.values()))


def seen_key(alert: AlertRow) -> str:
    """What a re-send repeats exactly: the same alert (fingerprint), firing since the same time, in the same state."""
    return f"{alert.fp}|{alert.starts}|{alert.status}"
