"""Who is in the sandbox workspace: a person (or, for a `…-team` role, a user group) for every role the
playbooks name, unless ROSTER says who; two responders besides, who are in no roster role. And what the
app declares in its manifest: its slash commands and message shortcuts."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.playbook import Playbook
from bot.roster import Roster, RosterEntry

MANIFEST = "slack-manifest.yml"
# Where the manifest is looked for: the current folder, then the checkout the package runs from.
MANIFEST_PLACES = (Path(MANIFEST), Path(__file__).resolve().parents[2] / MANIFEST)
NAMES = ("Dana Whitfield", "Ravi Menon", "Mei Chen", "Omar Haddad", "Ana Costa", "Lena Fischer", "Sam Okafor",
         "Tomás Silva", "Priya Natarajan", "Jonas Berg", "Ines Moreau", "Kwame Mensah")
RESPONDERS = ("Alex Kim", "Jordan Lee")


@dataclass(frozen=True)
class Person:
    id: str
    real_name: str
    role: str = ""  # the roster role they answer for; "" for a responder

    @property
    def handle(self) -> str:
        """The short name users.info gives, as Slack's `name`: what `@name` in a slash command mentions."""
        if not self.id.startswith("U"):
            return self.role
        first = unicodedata.normalize("NFKD", self.real_name.split()[0].lower())
        return "".join(c for c in first if c.isascii())


@dataclass(frozen=True)
class People:
    users: list[Person]
    groups: dict[str, tuple[Person, list[str]]]  # group id -> (the group, member ids)
    roster: Roster

    @property
    def responders(self) -> list[Person]:
        return [p for p in self.users if not p.role]


def cast(books: dict[str, Playbook], roster: Roster) -> People:
    """With a ROSTER, its ids become the people (and groups) of the workspace, named after their roles; without,
    a made-up person for every role the playbooks use. Routing keys are dropped: the sandbox pages nobody."""
    responders = [Person(f"U0SBR{n:03d}", name) for n, name in enumerate(RESPONDERS, 1)]
    if roster:
        chosen = {role: entry.slack for role, entry in roster.items()}
    else:
        roles = sorted({r for book in books.values() for r in book.roles()})
        chosen = {role: (f"S0SB{n:04d}" if role.endswith("-team") else f"U0SB{n:04d}")
                  for n, role in enumerate(roles, 1)}
    users: dict[str, Person] = {}
    groups: dict[str, tuple[Person, list[str]]] = {}
    for role, target in sorted(chosen.items()):
        if target.startswith("S"):
            groups[target] = (Person(target, role, role), [p.id for p in responders])
        elif target not in users:
            name = NAMES[len(users) % len(NAMES)] if not roster else role.replace("-", " ").title()
            users[target] = Person(target, name, role)
    return People(users=list(users.values()) + responders, groups=groups,
                  roster={role: RosterEntry(slack=target) for role, target in chosen.items()})


@dataclass(frozen=True)
class Manifest:
    commands: dict[str, bool]  # slash command -> should_escape
    message_shortcuts: dict[str, str]  # callback_id -> name


def read_manifest(path: Path | None = None) -> Manifest:
    """The app's slash commands and message shortcuts, as its manifest declares them to Slack."""
    path = path or next((p for p in MANIFEST_PLACES if p.is_file()), MANIFEST_PLACES[0])
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        features = data.get("features") or {}
        commands = {str(c["command"]): bool(c.get("should_escape", False))
                    for c in features.get("slash_commands") or []}
        shortcuts = {str(s["callback_id"]): str(s["name"]) for s in features.get("shortcuts") or []
                     if s.get("type") == "message"}
    except OSError as e:
        raise ConfigError(f"sandbox: cannot read the app manifest {path} ({e.strerror}); run the sandbox from "
                          "the project's folder") from None
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as e:
        raise ConfigError(f"sandbox: the app manifest {path} is not a Slack app manifest ({e})") from None
    return Manifest(commands=commands, message_shortcuts=shortcuts)
