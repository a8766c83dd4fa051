"""What people may type, checked on the server: the same limits the modals are built with, control and
invisible characters removed, at least one visible character where something is required."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from bot.playbook import SEVERITIES

TITLE_MAX, SERVICE_MAX, DESCRIPTION_MAX = 120, 100, 2000
CAUSE_MAX = RESOLUTION_MAX = 2000
UPDATE_MAX, ETA_MAX = 3000, 100
NOTE_MAX = 3000
PAGE_MESSAGE_MAX = 500  # what `/incident page <role>` adds to the page's summary (PagerDuty keeps 1,024)
ECHO_MAX = 40  # how much of an unknown word is repeated back
PRIVATE = "private"  # the declare modal's checkbox, and the `--private` flag after `/incident <playbook>`

# Slack user ids as they appear in payloads and mentions (our tests' ids use `_`); nothing that can
# close a `<@…>` mention.
USER_ID = re.compile(r"^[UWB][A-Z0-9_]{1,30}$")


def clean(text: str, *, multiline: bool = False) -> str:
    """Without control characters (newlines and tabs kept in multi-line fields) or invisible formatting
    characters (zero-width spaces, direction overrides), trimmed."""
    keep = "\n\t" if multiline else ""
    return "".join(c for c in text if c in keep or unicodedata.category(c) not in ("Cc", "Cf")).strip()


def _cleaned(value: Any, *, multiline: bool = False, limit: int, required: bool = False) -> str:
    text = clean(str(value or ""), multiline=multiline)
    if required and not text:
        raise ValueError("write at least one visible character")
    if len(text) > limit:
        raise ValueError(f"keep it under {limit} characters (this is {len(text)})")
    return text


F = TypeVar("F", bound="_Form")


class _Form(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def read(cls: type[F], values: dict[str, str]) -> tuple[F | None, dict[str, str]]:
        """(the form, {}) or (None, {block id: what to fix}) for `response_action: errors`."""
        try:
            return cls.model_validate(values), {}
        except ValidationError as e:
            errors: dict[str, str] = {}
            for err in e.errors():
                field = str(err["loc"][0]) if err["loc"] else "title"
                errors.setdefault(field, str(err["msg"]).removeprefix("Value error, ").capitalize() + ".")
            return None, errors


def _text(limit: int, *, multiline: bool = False, required: bool = False) -> BeforeValidator:
    return BeforeValidator(functools.partial(_cleaned, multiline=multiline, limit=limit, required=required))


def _severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"choose one of {', '.join(SEVERITIES)}")
    return str(value)


class DeclareForm(_Form):
    title: Annotated[str, _text(TITLE_MAX, required=True)]
    severity: Annotated[str, BeforeValidator(_severity)]
    service: Annotated[str, _text(SERVICE_MAX)] = ""
    description: Annotated[str, _text(DESCRIPTION_MAX, multiline=True)] = ""
    private: Annotated[bool, BeforeValidator(lambda v: v == PRIVATE)] = False


class ResolveForm(_Form):
    cause: Annotated[str, _text(CAUSE_MAX, multiline=True, required=True)]
    resolution: Annotated[str, _text(RESOLUTION_MAX, multiline=True, required=True)]


class StatusForm(_Form):
    text: Annotated[str, _text(UPDATE_MAX, multiline=True, required=True)]
    eta: Annotated[str, _text(ETA_MAX)] = ""


def note_text(text: str) -> str:
    """A note typed after `/incident note`; ValueError says what to fix."""
    return _cleaned(text, multiline=True, limit=NOTE_MAX, required=True)


def page_message(text: str) -> str:
    """The optional message after `/incident page <role>`, on one line; ValueError says what to fix."""
    return _cleaned(" ".join(text.split()), limit=PAGE_MESSAGE_MAX)


def private_flag(text: str) -> tuple[str, bool]:
    """`/incident perf --private Checkout slow` → ("Checkout slow", True)."""
    words = text.split()
    flag = f"--{PRIVATE}"
    return " ".join(w for w in words if w != flag), flag in words


def echo(word: str) -> str:
    """A word a person typed, short enough to repeat back to them."""
    word = clean(word)
    return word if len(word) <= ECHO_MAX else word[: ECHO_MAX - 1] + "…"
