"""What a playbook's commands must not do when a responder pastes them: the patterns that broke before.

`code_blocks` finds every fenced block with the step it belongs to; `problems` names each known-broken
pattern as `file:line: reason`. Tests run it on the shipped playbooks and on the broken originals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from bot.playbook import Step
from bot.playbook_file import parse_playbook

SHELL = frozenset({"bash", "sh", "shell"})
WARNING = "⚠️ Destructive:"
# The stacks a command block may name in its first line, so nobody runs a MongoDB command on PostgreSQL.
STACKS = ("Kubernetes", "PostgreSQL", "MongoDB", "Redis", "Prometheus", "Node.js", "Render", "Linux host",
          "Docker Compose", "systemd", "Go", "git", "Terraform", "k6", "Chaos Mesh")
_COMMENT = ("#", "//", "--")

# Commands that delete, flush, restart or break something for everyone using the service.
_DESTRUCTIVE = [
    (re.compile(r"\bkubectl\b.*\bdelete\b"), "deletes Kubernetes objects"),
    (re.compile(r"\bkubectl\b.*\b(rollout\s+(restart|undo)|patch\s+deployment|set\s+(env|resources))\b"),
     "replaces every pod of the deployment"),
    (re.compile(r"\bfind\b.*\s-delete\b"), "deletes files"),
    (re.compile(r"\brm\s+-\w*[rf]"), "deletes files"),
    (re.compile(r"\bFLUSH(ALL|DB)\b", re.IGNORECASE), "empties the cache"),
    (re.compile(r"\b(DROP|TRUNCATE)\s+(TABLE|INDEX|DATABASE|SCHEMA)\b", re.IGNORECASE), "drops data"),
    (re.compile(r"\bpg_(terminate|cancel)_backend\b"), "ends sessions"),
    (re.compile(r"\b(docker-compose|docker compose|systemctl|pg_ctl|service)\b.*\brestart\b"), "restarts a service"),
    (re.compile(r"\b(kind|type):\s*PodChaos\b"), "fails pods on purpose"),
]
_DELETE_ALL_PODS = re.compile(r"\bkubectl\b.*\bdelete\s+pods?\b.*(\s-l\b|--selector|--all\b)")
_URL = re.compile(r"https?://[^\s'\"]+")
_QUOTED_URL = re.compile(r"([\"'])(https?://[^\"']*)\1")
_GLOBOFF = re.compile(r"(^|\s)(-[a-zA-Z]*g[a-zA-Z]*|--globoff)(\s|$)")
_PSQL_C = re.compile(r"(?:^|\s)-c\s+([\"'])(.*?)\1", re.DOTALL)
_OLD_PG_COLUMNS = re.compile(r"\b(mean|total|min|max|stddev)_time\b")
_PG_VERSION_NOTE = re.compile(r"PostgreSQL \d+")
_THREE_DIGITS = re.compile(r"\[0-9\]\[0-9\]\[0-9\](?!\[0-9\]|\*|\{)")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class CodeBlock:
    line: int  # of the opening fence, 1-based, in the file
    info: str  # the fence's language
    code: str
    step: Step | None  # the step whose detail holds it; None outside a step


def code_blocks(path: Path) -> list[CodeBlock]:
    """Every fenced block of a playbook, with the step it belongs to."""
    steps = sorted((s for p in parse_playbook(path).phases for s in p.steps), key=lambda s: s.line)
    out = []
    for tok in MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8")):
        if tok.type != "fence" or tok.map is None:
            continue
        line = tok.map[0] + 1
        owner = [s for s in steps if s.line < line] if tok.level > 0 else []
        out.append(CodeBlock(line, tok.info.strip().split(" ")[0], tok.content, owner[-1] if owner else None))
    return out


def _commands(code: str) -> list[str]:
    """Logical lines: backslash continuations joined, comment lines left out."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [ln for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith(_COMMENT)]


def _destructive(text: str) -> str | None:
    for line in _commands(text):
        for pattern, what in _DESTRUCTIVE:
            if pattern.search(line):
                return what
    return None


def problems(path: Path) -> list[str]:
    """Each known-broken pattern in the playbook at `path`, as `file:line: reason`."""
    found: list[str] = []
    blocks = code_blocks(path)
    for block in blocks:
        where = f"{path}:{block.line}"
        step_text = block.step.text if block.step else ""
        context = f"{step_text}\n{block.step.detail}" if block.step else block.code
        first = block.code.lstrip("\n").splitlines()[0] if block.code.strip() else ""
        if not block.info:
            found.append(f"{where}: a code block without a language (```bash, ```sql, …)")
        if not (first.startswith(_COMMENT) and any(stack in first for stack in STACKS)):
            found.append(f"{where}: the first line is not a comment naming the stack ({', '.join(STACKS[:4])}, …)")
        for line in _commands(block.code):
            urls = _URL.findall(line)
            if "curl" in line and any(set(u) & set("[]{}") for u in urls) and not _GLOBOFF.search(line):
                found.append(f"{where}: curl URL with [ ] or {{ }} and no -g: curl globs it and fails "
                             "(use -G --data-urlencode, or -g)")
            if "curl" in line and any(" " in m.group(2) for m in _QUOTED_URL.finditer(line)):
                found.append(f"{where}: a curl URL with an unencoded space")
        if _OLD_PG_COLUMNS.search(block.code) and not _PG_VERSION_NOTE.search(context):
            found.append(f"{where}: pg_stat_statements column renamed in PostgreSQL 13 (mean_time → "
                         "mean_exec_time) used without saying which version it is for")
        for match in _PSQL_C.finditer(block.code):
            sql = match.group(2)
            if len(re.findall(r"\bCONCURRENTLY\b", sql, re.IGNORECASE)) > 1:
                found.append(f"{where}: two CONCURRENTLY statements in one psql -c run in one transaction and "
                             "fail; give each its own -c")
            if re.search(r"\bALTER\s+SYSTEM\b", sql, re.IGNORECASE) and sql.count(";") > 1:
                found.append(f"{where}: ALTER SYSTEM cannot run inside a multi-statement -c; give it its own -c")
        if _DELETE_ALL_PODS.search(block.code):
            found.append(f"{where}: deletes every matching pod at once; delete one replica at a time")
        what = _destructive(block.code)
        if what and not step_text.startswith(WARNING):
            found.append(f"{where}: {what}, but its step does not start with '{WARNING}'")
        if _THREE_DIGITS.search(block.code):
            found.append(f"{where}: a pattern of exactly three digits misses values of 1,000 and more")
        if "setProfilingLevel(2" in block.code:
            found.append(f"{where}: profiling level 2 records every operation, not only slow ones")
    text = path.read_text(encoding="utf-8")
    if "setProfilingLevel(" in text and "setProfilingLevel(0)" not in text:
        found.append(f"{path}:1: turns MongoDB profiling on and never off again (db.setProfilingLevel(0))")
    for phase in parse_playbook(path).phases:
        for step in phase.steps:
            inline = "\n".join(_INLINE_CODE.findall(f"{step.text}\n{step.detail}"))
            what = _destructive(inline)
            if what and not step.text.startswith(WARNING):
                found.append(f"{path}:{step.line}: {what}, but the step does not start with '{WARNING}'")
    return found
