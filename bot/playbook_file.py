"""Reading a playbook file: YAML front matter, then a Markdown body of phases and their steps.

A broken playbook raises ConfigError naming the file, the line and the reason, so the bot refuses to
start instead of failing in the middle of an incident. What a playbook is: bot/playbook.py.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import ValidationError

from bot.durations import window_end_seconds
from bot.errors import ConfigError, plain_reason
from bot.playbook import (
    MAX_DETAIL,
    MAX_STEP_TEXT,
    MAX_STEPS_PER_PHASE,
    PHASES,
    RESERVED_WORDS,
    FrontMatter,
    Phase,
    Playbook,
    Step,
)

_PHASE_HEADING = re.compile(r"^(assess|diagnose|mitigate|resolve)\b[\s:—–-]*(.*)$", re.IGNORECASE)
_CHECKBOX = re.compile(r"^\[( |x|X)\]\s+")


def _error(path: Path, line: int, reason: str) -> ConfigError:
    return ConfigError(f"{path}:{line}: {reason}")


def _split_front_matter(path: Path, text: str) -> tuple[str, str, int]:
    """Return (yaml, body, body's first line number)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _error(path, 1, "a playbook starts with YAML front matter between '---' lines")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    raise _error(path, 1, "the front matter's closing '---' line is missing")


def _yaml_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """Line (0-based, within the YAML) of the node at `loc`, or the deepest ancestor found."""
    if node is None:
        return 0
    line = node.start_mark.line
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if getattr(k, "value", None) == part:
                    child = v
                    line = k.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return int(line)


def _parse_meta(path: Path, source: str) -> FrontMatter:
    try:
        data = yaml.safe_load(source)
        root = yaml.compose(source)
    except RecursionError:
        raise _error(path, 2, "front matter nests too deeply to be a playbook") from None
    except yaml.YAMLError as e:
        # The context mark points at where the broken construct began, which is where people look.
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        raise _error(path, line, f"front matter is not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise _error(path, 2, "front matter must be a mapping of keys such as key, title, severity")
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "front matter"
        raise _error(path, _yaml_line(root, loc) + 2, f"{where}: {plain_reason(err)}") from None


def _inline_text(tokens: list[Token], i: int) -> str:
    """Content of the inline token following an opening token at i."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return nxt.content.strip() if nxt is not None and nxt.type == "inline" else ""


def _detail(body_lines: list[str], item: Token, first_para_end: int) -> str:
    """Everything nested under a step, as written, dedented."""
    assert item.map is not None
    raw = body_lines[first_para_end : item.map[1]]
    return textwrap.dedent("".join(raw)).strip("\n")


def _parse_body(path: Path, body: str, offset: int) -> tuple[Phase, ...]:
    md = MarkdownIt("commonmark")
    tokens = md.parse(body)
    body_lines = body.splitlines(keepends=True)

    def line_of(tok: Token) -> int:
        return (tok.map[0] if tok.map else 0) + offset

    phases: list[dict[str, Any]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            text = _inline_text(tokens, i)
            if tok.tag != "h2":
                if phases or tok.tag != "h1":
                    raise _error(
                        path, line_of(tok),
                        f"unexpected heading {text!r}: phases are '##' headings; "
                        "put other structure in the step's detail",
                    )
                i += 3
                continue
            m = _PHASE_HEADING.match(text)
            if not m:
                raise _error(
                    path, line_of(tok),
                    f"heading {text!r} is not a phase; use one of: Assess, Diagnose, Mitigate, Resolve",
                )
            name = m.group(1).lower()
            expected = PHASES[len(phases)] if len(phases) < len(PHASES) else None
            if name != expected:
                raise _error(
                    path, line_of(tok),
                    f"phase {name.capitalize()!r} is out of order or repeated; "
                    "phases go Assess, Diagnose, Mitigate, Resolve, once each",
                )
            window = m.group(2).strip().strip("()").strip()
            phases.append(
                {"name": name, "label": text, "window": window, "window_end": window_end_seconds(window),
                 "description": [], "steps": [], "line": line_of(tok)}
            )
            i += 3
            continue
        if not phases:
            if tok.type in ("paragraph_open", "bullet_list_open", "ordered_list_open", "fence", "code_block"):
                raise _error(path, line_of(tok), "text before the first phase heading; start with '## Assess'")
            i += 1
            continue
        phase = phases[-1]
        if tok.type == "bullet_list_open" and tok.level == 0:
            j = i + 1
            depth = 1
            plain_items: list[str] = []
            while depth:
                t = tokens[j]
                if t.type in ("bullet_list_open", "ordered_list_open"):
                    depth += 1
                elif t.type in ("bullet_list_close", "ordered_list_close"):
                    depth -= 1
                elif t.type == "list_item_open" and depth == 1:
                    para = tokens[j + 1]
                    first = _inline_text(tokens, j + 1) if para.type == "paragraph_open" else ""
                    cb = _CHECKBOX.match(first)
                    if cb:
                        step_text = " ".join(first[cb.end():].split())
                        if not step_text:
                            raise _error(path, line_of(t), "a step needs text after '- [ ]'")
                        if len(step_text) > MAX_STEP_TEXT:
                            raise _error(
                                path, line_of(t),
                                f"step text is {len(step_text)} characters; keep it under {MAX_STEP_TEXT} "
                                "and move the rest into indented detail",
                            )
                        assert para.map is not None
                        detail = _detail(body_lines, t, para.map[1])
                        if len(detail) > MAX_DETAIL:
                            raise _error(
                                path, line_of(t),
                                f"step detail is {len(detail)} characters; the limit is {MAX_DETAIL}",
                            )
                        phase["steps"].append(Step(text=step_text, detail=detail, line=line_of(t)))
                    else:
                        assert t.map is not None
                        plain_items.append("• " + " ".join("".join(body_lines[t.map[0]:t.map[1]]).split())
                                           .removeprefix("- ").removeprefix("* "))
                j += 1
            if plain_items:
                phase["description"].append("\n".join(plain_items))
            i = j
            continue
        if tok.type == "paragraph_open" and tok.level == 0:
            phase["description"].append(_inline_text(tokens, i))
        elif tok.type in ("fence", "code_block") and tok.level == 0:
            phase["description"].append(f"```\n{tok.content.rstrip()}\n```")
        i += 1

    if len(phases) < len(PHASES):
        missing = ", ".join(p.capitalize() for p in PHASES[len(phases):])
        raise _error(path, offset + len(body_lines), f"missing phase heading(s): {missing}")
    out = []
    for p in phases:
        if not p["steps"]:
            raise _error(path, p["line"], f"phase {p['label']!r} has no steps; add '- [ ] …' items")
        if len(p["steps"]) > MAX_STEPS_PER_PHASE:
            raise _error(
                path, p["line"],
                f"phase {p['label']!r} has {len(p['steps'])} steps; one message holds at most "
                f"{MAX_STEPS_PER_PHASE}: split it or group steps with sub-bullets",
            )
        out.append(Phase(name=p["name"], label=p["label"], window=p["window"], window_end=p["window_end"],
                         description="\n\n".join(d for d in p["description"] if d), steps=tuple(p["steps"])))
    return tuple(out)


def parse_playbook(path: Path, text: str | None = None) -> Playbook:
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise _error(path, 1, f"cannot read the file: {e}") from None
    front, body, offset = _split_front_matter(path, text)
    meta = _parse_meta(path, front)
    return Playbook(meta=meta, phases=_parse_body(path, body, offset), path=str(path))


def load_playbooks(directory: Path, problems: list[str] | None = None) -> dict[str, Playbook]:
    """Every `*.md` playbook in `directory` (README.md aside), keyed by its command word.

    Raises ConfigError on the first broken one, or, given `problems`, adds each there and goes on.
    """
    if not directory.is_dir():
        raise ConfigError(f"{directory}: playbooks folder not found (set PLAYBOOKS_DIR)")
    books: dict[str, Playbook] = {}
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            book = parse_playbook(path)
            if book.key in books:
                raise _error(path, 2, f"key {book.key!r} is already used by {books[book.key].path}")
            if book.key in RESERVED_WORDS:
                raise _error(path, 2, f"key {book.key!r} is a command word; choose another")
        except ConfigError as e:
            if problems is None:
                raise
            problems.append(e.user_message)
            continue
        books[book.key] = book
    if not books and not problems:
        raise ConfigError(f"{directory}: no playbooks (*.md) found")
    return books
