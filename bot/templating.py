"""Status updates and the RCA, rendered from Jinja templates compiled once at start-up.

Every template runs in Jinja's immutable sandbox with StrictUndefined, so a template can reach only the
plain data it is given, and a misspelt variable is an error rather than an empty string. Nothing a person
typed is ever compiled: it only arrives as a value, so `{{ 7*7 }}` in a title stays those nine characters.

Status updates are Slack mrkdwn: every `{{ }}` output passes through `mrkdwn.escape` (only &, < and >), so
typed text can neither mention @channel nor add links. The RCA is a Markdown file, which Slack shows as a
document and never scans for mentions, so its values go in as written; escaping them would put `&lt;`
into a file people read and edit.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2 import TemplateSyntaxError as JinjaSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.errors import BotError, ConfigError
from bot.mrkdwn import escape
from bot.playbook import Playbook

STATUS_KINDS = ("initial", "progress", "resolved")
KINDS = (*STATUS_KINDS, "rca")
DEFAULT_FILES = {
    "initial": "status-initial.j2",
    "progress": "status-progress.j2",
    "resolved": "status-resolved.j2",
    "rca": "rca.md.j2",
}
# A status update is edited in a modal field, which holds at most 3000 characters.
MAX_STATUS_CHARS = 3000


class TemplateFailed(BotError):
    """A template broke while rendering a real incident (`check` renders each one first to prevent this)."""


def _mrkdwn_value(value: Any) -> str:
    return escape("" if value is None else str(value))


def _plain_value(value: Any) -> str:
    return "" if value is None else str(value)


def _oneline(value: Any) -> str:
    """Collapse line breaks and runs of spaces: for list items and table cells."""
    return " ".join(str(value).split())


def _cell(value: Any) -> str:
    """One line, pipes escaped: safe inside a Markdown table cell."""
    return _oneline(value).replace("|", "\\|")


def _environment(directory: Path, finalize: Callable[[Any], str]) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(directory), undefined=StrictUndefined, finalize=finalize, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, auto_reload=False,
    )
    env.filters["oneline"] = _oneline
    env.filters["cell"] = _cell
    return env


def _reason(error: Exception) -> str:
    if isinstance(error, TemplateError) and error.message:
        return error.message
    return f"{type(error).__name__}: {error}"


def _line_in(error: BaseException, filename: str | None) -> int:
    """The template line a render error came from (Jinja puts template lines into the traceback)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if filename and frame.filename == filename:
            return frame.lineno or 0
    return 0


@dataclass(frozen=True)
class _Compiled:
    template: Template
    path: Path


class Templates:
    """The compiled templates, and which one each playbook uses for each kind."""

    def __init__(self, directory: Path, compiled: dict[str, _Compiled], chosen: dict[tuple[str, str], str]) -> None:
        self.directory = directory
        self._compiled = compiled
        self._chosen = chosen  # (playbook key or "", kind) -> file name

    @classmethod
    def load(cls, directory: Path, books: Mapping[str, Playbook]) -> Templates:
        """Compile the defaults and every template a playbook names; ConfigError with file and line if broken."""
        if not directory.is_dir():
            raise ConfigError(f"{directory}: templates folder not found (set TEMPLATES_DIR)")
        envs = {"mrkdwn": _environment(directory, _mrkdwn_value), "plain": _environment(directory, _plain_value)}
        compiled: dict[str, _Compiled] = {}
        chosen: dict[tuple[str, str], str] = {}

        def compile_one(kind: str, name: str, named_by: str) -> None:
            mode = "plain" if kind == "rca" else "mrkdwn"
            if f"{mode}:{name}" in compiled:
                return
            path = directory / name
            try:
                template = envs[mode].get_template(name)
            except JinjaSyntaxError as e:
                raise ConfigError(f"{e.filename or path}:{e.lineno}: {e.message}") from None
            except TemplateNotFound:
                raise ConfigError(f"{named_by}: template {name!r} not found in {directory}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"{path}:1: cannot read the template: {e}") from None
            compiled[f"{mode}:{name}"] = _Compiled(template, Path(template.filename or path))

        for kind, name in DEFAULT_FILES.items():
            compile_one(kind, name, f"the default {kind} template")
            chosen[("", kind)] = name
        for key, book in sorted(books.items()):
            for kind in KINDS:
                name = getattr(book.meta.templates, kind)
                if name:
                    compile_one(kind, name, f"{book.path}: templates.{kind}")
                    chosen[(key, kind)] = name
        return cls(directory, compiled, chosen)

    def name_for(self, book_key: str, kind: str) -> str:
        return self._chosen.get((book_key, kind)) or self._chosen[("", kind)]

    def _get(self, book_key: str, kind: str) -> _Compiled:
        mode = "plain" if kind == "rca" else "mrkdwn"
        return self._compiled[f"{mode}:{self.name_for(book_key, kind)}"]

    def render(self, kind: str, book_key: str, context: Mapping[str, Any]) -> str:
        """The playbook's template for `kind` (else the default), filled from `context`."""
        compiled = self._get(book_key, kind)
        try:
            text = compiled.template.render(context)
        except Exception as e:  # noqa: BLE001 - any failure inside template code is the template's
            line = _line_in(e, compiled.template.filename)
            raise TemplateFailed(
                f"The {kind} template ({compiled.path}, line {line}) could not be rendered: {_reason(e)}. "
                "Fix the template and run `python -m bot check`."
            ) from e
        return text.strip() + ("\n" if kind == "rca" else "")

    def check(self, context_for: Callable[[str], Mapping[str, Any]]) -> list[str]:
        """Render every template in use against sample data; ConfigError (file, line, reason) on failure."""
        lines = []
        order = sorted(self._chosen.items(), key=lambda item: (item[0][0], KINDS.index(item[0][1])))
        for (book_key, kind), name in order:
            compiled = self._get(book_key, kind)
            try:
                text = compiled.template.render(context_for(kind))
            except Exception as e:  # noqa: BLE001 - reported with file and line, start-up stops
                line = _line_in(e, compiled.template.filename)
                raise ConfigError(f"{compiled.path}:{line}: {_reason(e)} (rendering a sample incident)") from None
            if kind != "rca" and len(text.strip()) > MAX_STATUS_CHARS:
                raise ConfigError(f"{compiled.path}:1: renders {len(text.strip())} characters for a sample "
                                  f"incident; a status update must fit in {MAX_STATUS_CHARS}")
            owner = f"playbook {book_key}" if book_key else "default"
            lines.append(f"  {kind} ({owner}): {name} ok")
        return lines
