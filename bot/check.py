"""`python -m bot check`: everything that can be validated without Slack, summarised."""

from __future__ import annotations

from bot.durations import format_duration
from bot.errors import ConfigError
from bot.playbook import load_playbooks
from bot.settings import Settings


def run_check(settings: Settings) -> str:
    """A human summary; raises ConfigError (file, line, reason) on the first problem."""
    books = load_playbooks(settings.playbooks_dir)
    lines = [f"settings: ok (Slack API {settings.slack_api_url}, "
             f"Redis {'embedded' if not settings.redis_url else 'from REDIS_URL'})"]
    unmapped: dict[str, list[str]] = {}
    for key, book in sorted(books.items()):
        steps = " · ".join(f"{p.label}: {len(p.steps)} steps" for p in book.phases)
        lines.append(f"playbook {key} ({book.path}): {book.meta.title}, {book.meta.severity}")
        lines.append(f"  phases: {steps}")
        schedule = ", ".join(
            f"{format_duration(level.after)} → {', '.join(level.notify)}"
            + (f" (raise to {level.set_severity})" if level.set_severity else "")
            for level in book.meta.escalation
        ) or "none"
        lines.append(f"  escalation: {schedule}")
        for role in sorted(book.roles()):
            if role not in settings.roster:
                unmapped.setdefault(role, []).append(key)
    if unmapped:
        lines.append("roles with no ROSTER entry (they are named in plain text, not paged):")
        lines += [f"  {role}: used by {', '.join(keys)}" for role, keys in sorted(unmapped.items())]
    else:
        lines.append("roster: every role is mapped")
    if not books:
        raise ConfigError("no playbooks")
    return "\n".join(lines)
