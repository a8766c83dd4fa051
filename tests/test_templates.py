"""Templates: golden renders, the sandbox, escaping, playbook overrides, `check`, and a 5,000-event RCA.

Golden files live in tests/golden/; after an intended template change, regenerate them with
`UPDATE_GOLDEN=1 pytest tests/test_templates.py` and review the diff.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from bot import sample
from bot.errors import ConfigError
from bot.incident import Event, Incident
from bot.mrkdwn import escape, unescape
from bot.playbook import Playbook
from bot.playbook_file import parse_playbook
from bot.settings import load_settings
from bot.store import Store, connect
from bot.templating import TemplateFailed, Templates
from bot.timeline_view import describe, plain
from bot.workflows import rca, status
from tests.test_config import run_cli

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
GOLDEN = Path(__file__).resolve().parent / "golden"
QUICK = parse_playbook(Path(__file__).resolve().parent / "playbooks" / "quick.md")

# 2025-11-23 23:50 UTC: the incident runs past midnight, so the RCA timeline shows both dates.
DECLARED = 1_763_941_800_000
MIN = 60_000
PEOPLE = {"U_ALICE": "alice", "U_BOB": "bob", "U_LEAD": "lead"}
INJECTIONS = ("<!channel>", "{{ 7*7 }}", "{% for x in y %}", "<@U123>")


def golden_incident(**extra: object) -> Incident:
    """The sample incident with the values the golden files were written from."""
    return sample.incident(**{
        "id": "12", "playbook": "quick", "severity": "P1",
        "description": "p99 from 300 ms to 2.4 s\nsince the 23:40 deploy",
        "declared_at": DECLARED, "commander": "U_LEAD", "resolved_at": DECLARED + 95 * MIN,
        "cause": "Missing index on orders.created_at", "resolution": "Added the index; p99 back to 310 ms",
        "rca_due_at": DECLARED + 95 * MIN + 86_400_000, **extra,
    })


def golden_events() -> list[Event]:
    rows = [
        (0, "declared", "U_ALICE", {"title": "Checkout p99 above 2 s", "severity": "P2"}),
        (0, "channel_created", "bot", {"channel": "C_INC", "name": "inc-20251123-quick-checkout"}),
        (3, "step_done", "U_BOB", {"phase": 0, "step": 0, "text": "Verify the alert is outside normal variation"}),
        (5, "note", "U_BOB", {"text": "Slow queries on orders | since 23:42 & rising"}),
        (6, "status_update", "U_ALICE", {"kind": "initial", "text": "[PERFORMANCE] checkout-api: slower"}),
        (8, "commander_changed", "U_ALICE", {"from": "U_ALICE", "to": "U_LEAD"}),
        (15, "escalated", "bot", {"level": 0, "message": "Page the Performance Engineering Lead"}),
        (16, "escalation_acknowledged", "U_LEAD", {"level": 0}),
        (22, "severity_changed", "U_LEAD", {"from": "P2", "to": "P1"}),
        (25, "phase_completed", "U_LEAD", {"phase": 0}),
        (40, "status_update", "U_LEAD", {"kind": "progress", "text": "[UPDATE] checkout-api: fix going out"}),
        (95, "resolved", "U_BOB", {"cause": "Missing index", "resolution": "Added the index"}),
    ]
    return [Event(t, who, DECLARED + m * MIN, data, id=f"g{i}") for i, (m, t, who, data) in enumerate(rows)]


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(TEMPLATES, {"quick": QUICK})


def check_golden(name: str, text: str) -> None:
    text = text if text.endswith("\n") else text + "\n"
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize(("kind", "eta", "golden"), [
    ("initial", "", "status-initial.txt"),
    ("progress", "45 minutes", "status-progress.txt"),
    ("progress", "", "status-progress-no-eta.txt"),
    ("resolved", "", "status-resolved.txt"),
])
def test_status_templates_golden(templates, kind, eta, golden):
    inc = golden_incident(status_updates={"initial": 0, "progress": 1, "resolved": 2}[kind])
    ctx = status.context(inc, QUICK.meta.title, kind, now_ms=DECLARED + 97 * MIN, eta=eta)
    check_golden(golden, templates.render(kind, "quick", ctx))


def test_rca_template_golden(templates):
    inc = golden_incident()
    ctx = rca.context(inc, QUICK, golden_events(), PEOPLE, now_ms=DECLARED + 97 * MIN, due_ms=inc.rca_due_at)
    text = templates.render("rca", "quick", ctx)
    check_golden("rca.md", text)
    # What the issue asks of the RCA, independent of wording.
    for expected in ("2025-11-23 23:50 UTC", "2025-11-24 01:25 UTC", "1h 35m", "checkout-api",
                     "- T+0 · 23:50 · @alice declared the incident", "**2025-11-24**",
                     "- T+16 · 00:06 · @lead acknowledged escalation level 1",
                     "Missing index on orders.created_at", "| Immediate | _TBD_ | _TBD_ | 2025-11-25 |",
                     "| Long term (within a month) |", "Why was it not caught earlier", "What caused it",
                     "What made the impact worse", "Slow queries on orders | since 23:42 & rising",
                     "within 24 hours of the resolution"):
        assert expected in text, expected


def test_escaping_and_plain_text_round_trip():
    for raw in ("<!channel> & <@U1>", "&lt;", "a &amp; b", "<<>>&&"):
        assert unescape(escape(raw)) == raw
    # One timeline line, for Slack (escaped mrkdwn) and for the RCA document (plain, with names).
    added = Event(type="message_added", actor="U_ALICE", at=0,
                  data={"text": "<!here> & co", "author": "U_BOB", "permalink": "https://x.test/p1"})
    assert describe(added, None) == \
        "<@U_ALICE> added a message by <@U_BOB>: “&lt;!here&gt; &amp; co” <https://x.test/p1|view>"
    assert describe(added, None, plain({"U_ALICE": "alice"})) == \
        "@alice added a message by @U_BOB: “<!here> & co” view (https://x.test/p1)"
    created = Event(type="channel_created", actor="bot", at=0, data={"channel": "C1"})
    assert describe(created, None, plain({"C1": "inc-1"})) == "Incident channel #inc-1 created"


def injected_incident() -> Incident:
    payload = " ".join(INJECTIONS)
    return golden_incident(title=f"T {payload}", description=f"D {payload}", service=f"S {payload}",
                           cause=f"C {payload}", resolution=f"R {payload}")


@pytest.mark.parametrize("kind", ["initial", "progress", "resolved"])
def test_typed_values_are_escaped_and_never_evaluated_in_status_updates(templates, kind):
    ctx = status.context(injected_incident(), "Q", kind, now_ms=DECLARED, eta=" ".join(INJECTIONS))
    text = templates.render(kind, "quick", ctx)
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text
    assert "{{ 7*7 }}" in text and "{% for x in y %}" in text and "49" not in text
    if kind != "resolved":
        assert "within " + escape(" ".join(INJECTIONS)) in text


def test_typed_values_go_into_the_rca_as_written_but_are_never_evaluated(templates):
    events = [Event("note", "U_BOB", DECLARED + MIN, {"text": " ".join(INJECTIONS)}, id="n1")]
    inc = injected_incident()
    text = templates.render("rca", "quick", rca.context(inc, QUICK, events, PEOPLE, now_ms=DECLARED,
                                                        due_ms=inc.rca_due_at))
    # A file is not mrkdwn: Slack never turns its text into mentions, so it is not escaped.
    assert "@bob noted: <!channel> {{ 7*7 }} {% for x in y %} <@U123>" in text
    assert "# RCA: INC-12 · T <!channel> {{ 7*7 }}" in text
    assert "49" not in text


def write_templates(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def book_with(tmp_path: Path, templates_yaml: str) -> Playbook:
    text = (Path(__file__).resolve().parent / "playbooks" / "quick.md").read_text()
    text = text.replace("key: quick", "key: branded").replace("severity: P2\n", f"severity: P2\n{templates_yaml}\n")
    path = tmp_path / "branded.md"
    path.write_text(text, encoding="utf-8")
    return parse_playbook(path)


def test_playbook_names_its_own_template(tmp_path):
    folder = write_templates(tmp_path, **{"branded-initial.j2": "[ACME] {{ service }} is slow. {{ time }}"})
    book = book_with(tmp_path, "templates: {initial: branded-initial.j2}")
    loaded = Templates.load(folder, {"branded": book, "quick": QUICK})
    ctx = status.context(injected_incident(), "x", "initial", now_ms=DECLARED)
    assert loaded.render("initial", "branded", ctx).startswith("[ACME] S &lt;!channel&gt;")
    assert loaded.render("initial", "quick", ctx).startswith("[PERFORMANCE]")  # the default
    assert loaded.render("progress", "branded", ctx).startswith("[UPDATE]")  # not overridden
    lines = loaded.check(sample.context_for)
    assert "  initial (playbook branded): branded-initial.j2 ok" in lines


def test_missing_named_template_names_the_playbook(tmp_path):
    book = book_with(tmp_path, "templates: {rca: nowhere.md.j2}")
    with pytest.raises(ConfigError) as info:
        Templates.load(TEMPLATES, {"branded": book})
    assert f"{book.path}: templates.rca" in info.value.user_message and "nowhere.md.j2" in info.value.user_message


@pytest.mark.parametrize(("source", "line", "reason"), [
    ("Fine\n{{ service }}\n{% if eta %}never closed\n", 3, "Unexpected end of template"),
    ("Line one\n\n{{ servcie }}\n", 3, "'servcie' is undefined"),
    ("A\n{{ ''.__class__.__mro__ }}\n", 2, "unsafe"),
    ("A\nB\n{{ timeline.append(1) }}\n", 3, "append"),
])
def test_broken_template_is_reported_with_file_and_line(tmp_path, source, line, reason):
    folder = write_templates(tmp_path, **{"broken.j2": source})
    kind = "rca" if "timeline" in source else "initial"
    book = book_with(tmp_path, f"templates: {{{kind}: broken.j2}}")
    with pytest.raises(ConfigError) as info:
        Templates.load(folder, {"branded": book}).check(sample.context_for)
    message = info.value.user_message
    assert message.startswith(f"{folder / 'broken.j2'}:{line}: "), message
    assert reason in message, message


def test_template_failing_at_render_time_is_a_clear_error(tmp_path):
    folder = write_templates(tmp_path, **{"status-initial.j2": "{{ eta.upper() }}{{ 1 / 0 if eta == 'x' else '' }}"})
    loaded = Templates.load(folder, {})
    ctx = status.context(golden_incident(), "x", "initial", now_ms=DECLARED, eta="x")
    with pytest.raises(TemplateFailed) as info:
        loaded.render("initial", "", ctx)
    assert "status-initial.j2, line 1" in info.value.user_message and "ZeroDivisionError" in info.value.user_message


def test_check_cli_renders_templates_and_fails_on_a_broken_one(tmp_path):
    result = run_cli("check")
    assert result.returncode == 0, result.stderr
    for kind, name in (("initial", "status-initial.j2"), ("progress", "status-progress.j2"),
                       ("resolved", "status-resolved.j2"), ("rca", "rca.md.j2")):
        assert f"  {kind} (default): {name} ok" in result.stdout
    folder = write_templates(tmp_path, **{"status-resolved.j2": "Resolved {{ cause }\n"})
    result = run_cli("check", env={"TEMPLATES_DIR": str(folder)})
    assert result.returncode != 0
    assert f"{folder / 'status-resolved.j2'}:1: " in result.stderr
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    book_with(playbooks, "templates: {progress: missing.j2}")
    result = run_cli("check", env={"PLAYBOOKS_DIR": str(playbooks)})
    assert result.returncode != 0 and "templates.progress" in result.stderr and "missing.j2" in result.stderr


@pytest.fixture
async def rca_deps(redis_url):
    """What rendering an RCA needs, with a real store."""
    from bot.deps import Deps

    store = Store(connect(redis_url))
    settings = load_settings(env_file=None, slack_bot_token="xoxb-t", slack_signing_secret="s",
                             templates_dir=TEMPLATES)
    yield Deps(settings=settings, store=store, playbooks={"quick": QUICK})
    await store.close()


async def declared(store: Store, incident_id: str, title: str) -> None:
    fields = {"id": incident_id, "playbook": "quick", "title": title, "severity": "P2", "status": "open",
              "phase": "0", "commander": "U_ALICE", "declared_by": "U_ALICE", "declared_at": str(DECLARED),
              "service": "search"}
    await store.create_incident(incident_id, f"req-{incident_id}", fields,
                                Event("declared", "U_ALICE", DECLARED, {"title": title, "severity": "P2"}))


async def test_rca_from_five_thousand_events(rca_deps):
    store = rca_deps.store
    await declared(store, "77", "Long one")
    for start in range(1, 5000, 50):  # 50 at a time: the order within a batch does not matter here
        await asyncio.gather(*(
            store.add_event("77", Event("note", "U_BOB" if n % 2 else "U_ALICE", DECLARED + n * 1000,
                                        {"text": f"note {n}"}, id=f"n{n}"))
            for n in range(start, min(start + 50, 5000))))
    events = [ev async for ev in store.iter_timeline("77")]
    assert len(events) == 5000
    incident = await store.get("77")
    text = rca.render_markdown(rca_deps, incident, events, PEOPLE, now_ms=DECLARED + 5000 * 1000)
    lines = [line for line in text.splitlines() if line.startswith("- T+")]
    assert len(lines) == 5000
    assert "5000 events from the incident record" in text
    assert lines[0] == "- T+0 · 23:50 · @alice declared the incident (P2): Long one"
    assert "- T+0 · 23:50 · @bob noted: note 1" in lines
    assert "- T+83 · 01:13 · @bob noted: note 4999" in lines  # 4,999 s after the declaration
    assert {line.rsplit(" ", 1)[1] for line in lines[1:]} == {str(n) for n in range(1, 5000)}
    # Past midnight the timeline says so: one date line per day.
    assert text.index("\n**2025-11-23**\n") < text.index("note 599\n") < text.index("\n**2025-11-24**\n")
    assert text.count("\n**2025-11-2") == 2


async def test_rca_of_a_paged_timeline_equals_the_rca_of_the_whole_timeline(rca_deps):
    store = rca_deps.store
    await declared(store, "78", "Paged")
    for n in range(1, 101):  # three events at each time, and a day boundary
        etype, data = ("step_done", {"phase": 0, "step": n % 3}) if n % 10 == 0 else ("note", {"text": f"n{n}"})
        await store.add_event("78", Event(etype, "U_BOB", DECLARED + (n // 3) * 20 * MIN, data, id=f"p{n}"))
    whole = await store.timeline("78", count=10_000)
    incident = await store.get("78")
    expected = rca.render_markdown(rca_deps, incident, whole, PEOPLE, now_ms=DECLARED)
    for page in (1, 7, 100, 101, 1000):
        events = [ev async for ev in store.iter_timeline("78", page=page)]
        assert events == whole, page
        assert rca.render_markdown(rca_deps, incident, events, PEOPLE, now_ms=DECLARED) == expected, page
    assert len(whole) == 101 and expected.count("\n- T+") == 101 and expected.count("\n**2025-11-2") == 2
