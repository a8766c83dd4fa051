"""`python -m bot check`: everything that can be validated without Slack, summarised."""

from __future__ import annotations

from dataclasses import dataclass

from bot import sample
from bot.durations import format_duration, in_words
from bot.errors import ConfigError
from bot.playbook import Playbook
from bot.playbook_file import load_playbooks
from bot.settings import Settings
from bot.templating import Templates


@dataclass(frozen=True)
class Checked:
    """What start-up loaded and validated, so serving reuses it instead of loading again."""

    books: dict[str, Playbook]
    templates: Templates
    summary: str


def load_checked(settings: Settings) -> Checked:
    """Load and validate playbooks and templates. Raises ConfigError listing every problem, one per line
    (file:line: reason), when anything is broken."""
    problems: list[str] = []
    books = load_playbooks(settings.playbooks_dir, problems)
    slack = "set" if settings.slack_bot_token and settings.slack_signing_secret else \
        "not set (needed to serve, not to check)"
    lines = [f"settings: ok (Slack API {settings.slack_api_url}, tokens {slack})",
             f"redis: {settings.describe_redis()}"]
    unmapped: dict[str, list[str]] = {}
    for key, book in sorted(books.items()):
        lines += _describe(book, settings)
        for role in sorted(book.roles()):
            if role not in settings.roster:
                unmapped.setdefault(role, []).append(key)
    if unmapped:
        lines.append("roles with no ROSTER entry (they are named in plain text, not paged):")
        lines += [f"  {role}: used by {', '.join(keys)}" for role, keys in sorted(unmapped.items())]
    else:
        lines.append("roster: every role is mapped")
    if (settings.statuspage_api_key is None) != (not settings.statuspage_page_id):
        missing = "STATUSPAGE_PAGE_ID" if settings.statuspage_api_key else "STATUSPAGE_API_KEY"
        problems.append(f"setting {missing}: is required too when publishing to Statuspage; set both or neither")
    templates = None
    try:
        templates = Templates.load(settings.templates_dir, books)
        lines.append(f"templates ({settings.templates_dir}), each rendered against a sample incident:")
        lines += templates.check(sample.context_for)
    except ConfigError as e:
        problems.append(e.user_message)
    lines.append("alerts: " + ("on (POST /alerts/alertmanager)" if settings.alert_webhook_token else
                               "off (set ALERT_WEBHOOK_TOKEN to take Alertmanager's webhook)"))
    lines.append("statuspage: " + ("on" if settings.statuspage_enabled else
                                   "off (set STATUSPAGE_API_KEY and STATUSPAGE_PAGE_ID to publish there)"))
    paged = settings.pagerduty_roles
    lines.append("pagerduty: " + (f"pages {', '.join(paged)} through {settings.pagerduty_events_url}" if paged else
                                  "off (give a ROSTER role a routing key to page it)"))
    lines.append("pagerduty webhook: " + ("on, POST /pagerduty/webhook" if settings.pagerduty_webhook_secret else
                                          "off (set PAGERDUTY_WEBHOOK_SECRET to hear acknowledgements)"))
    if problems or templates is None:
        raise ConfigError("\n".join(problems))
    return Checked(books=books, templates=templates, summary="\n".join(lines))


def _describe(book: Playbook, settings: Settings) -> list[str]:
    steps = " · ".join(f"{p.label}: {len(p.steps)} steps" for p in book.phases)
    schedule = ", ".join(
        f"{format_duration(level.after)} → {', '.join(level.notify)}"
        + (f" (raise to {level.set_severity})" if level.set_severity else "")
        for level in book.meta.escalation
    ) or "none"
    alerts = " or ".join(", ".join(f"{k}={v}" for k, v in m.items()) for m in book.meta.alerts)
    targets = book.meta.targets.set()
    listed = ", ".join(f"{name} within {in_words(seconds)}" for _, name, seconds in targets)
    review = (f"{in_words(book.meta.review_within)} (review_within)" if book.meta.review_within
              else f"{in_words(settings.rca_due_after)} (RCA_DUE_AFTER)")
    return [f"playbook {book.key} ({book.path}): {book.meta.title}, {book.meta.severity}",
            f"  phases: {steps}", f"  escalation: {schedule}",
            f"  targets: {listed}; reminders to {', '.join(book.meta.targets.notify)}" if targets
            else "  targets: none",
            f"  RCA review: due {review} after resolve",
            f"  alerts ({book.meta.alert_mode}): {alerts}" if alerts else "  alerts: none match it"]


def run_check(settings: Settings) -> str:
    """A human summary; raises ConfigError listing every problem."""
    return load_checked(settings).summary
