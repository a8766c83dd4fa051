"""The sandbox in a real browser: `python -m bot sandbox` started as a person starts it, its page driven in
headless Chromium (the system's, Debian package `chromium`) through Playwright. Elements are found by role
and accessible name only, as a person using a screen reader would find them.

One sandbox and one browser serve the module; each test opens its own page. `SANDBOX_SCREENSHOT=path` makes
the walk-through save the README's picture there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bot.playbook_file import load_playbooks
from bot.sandbox.people import Person, cast
from tests.sandbox_process import ROOT, Sandbox

# This closed network has nothing for a browser to fetch, and the machine may be shared and slow.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 20_000
PEOPLE = cast(load_playbooks(ROOT / "playbooks"), {})
ALEX, JORDAN = PEOPLE.responders
PERF_LEAD = next(p for p in PEOPLE.users if p.role == "perf-lead")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path_factory.mktemp("sandbox"))
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        code, left = running.stop()
    assert code == 0 and not left, (code, left, running.log.read_text())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is missing: run .ci/ensure-tools (or apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    expect.set_options(timeout=WAIT_MS)
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    opened.goto(sandbox.url)
    try:
        yield opened
    finally:
        context.close()
    assert not dialogs, f"the page ran a script it was sent: {dialogs}"


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def channel(page: Page, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("navigation", name="Channels").get_by_role("link", name=name)


def open_channel(page: Page, link: str | re.Pattern[str], heading: str | re.Pattern[str]) -> None:
    """Follow a channel's link and wait until the page shows it (nothing may be typed into the page left: the
    heading may be the old page's, when it showed that channel already)."""
    with page.expect_navigation():
        channel(page, link).click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()


def message(page: Page, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("region", name="Messages").get_by_role("article", name=name)


def step(page: Page, text: str) -> Locator:
    return page.get_by_role("group", name=re.compile(re.escape(text)))


def act_as(page: Page, person: Person) -> None:
    """Switch who the page acts as; it opens again, as them, on the same channel (and only once it has may
    anything be clicked: a click on the page being left would be the previous person's)."""
    label = f"{person.real_name} ({person.role or 'responder'})"
    page.get_by_role("combobox", name="Acting as").select_option(label=label)
    page.wait_for_url(re.compile(rf"[?&]user={person.id}(&|$)"))
    expect(page.get_by_role("combobox", name="Acting as").get_by_role("option", name=label, selected=True)
           ).to_have_count(1)


def declare(page: Page, title: str) -> None:
    """`/incident perf` in #incidents (where the page opens), the modal filled in (after an error the bot shows
    beside the field)."""
    expect(page.get_by_role("heading", name="#incidents", level=1)).to_be_visible()
    send(page, f"/incident perf {title}")
    modal = page.get_by_role("dialog", name="Declare incident")
    expect(modal.get_by_role("textbox", name="Title")).to_have_value(title)
    severity = modal.get_by_role("combobox", name="Severity")
    expect(severity.get_by_role("option", name="P2", selected=True)).to_have_count(1)  # the playbook's
    modal.get_by_role("textbox", name="Title").fill("\u200b ")  # nothing visible: the bot refuses it
    modal.get_by_role("button", name="Declare").click()
    expect(modal.get_by_role("textbox", name="Title")).to_have_accessible_description(
        re.compile("visible character"))
    modal.get_by_role("textbox", name="Title").fill(title)
    modal.get_by_role("textbox", name="Affected service").fill("checkout-api")
    modal.get_by_role("button", name="Declare").click()
    expect(modal).to_be_hidden()


def test_help_is_only_visible_to_whoever_asked(page: Page) -> None:
    send(page, "/incident help")
    helped = message(page, re.compile(r"^Declare an incident with one of these playbooks"))
    expect(helped).to_contain_text("Only visible to you")
    expect(helped).to_contain_text("/incident perf [title] · Performance degradation (P2)")
    act_as(page, JORDAN)
    expect(message(page, re.compile(r"^Declare an incident"))).to_have_count(0)


def test_an_incident_walked_through_from_declare_to_rca(page: Page) -> None:
    title = "Checkout p99 above 2s"
    declare(page, title)
    expect(message(page, re.compile(rf"^INC-\d+ {title}"))).to_contain_text("declared by")
    open_channel(page, re.compile(r"^#inc-\d+-perf-checkout-p99-above-2s"), re.compile(r"^#inc-\d+-perf-checkout"))
    card = message(page, re.compile(rf"^INC-\d+ \[P2\] {title}"))
    expect(card).to_contain_text("📌 Pinned")
    expect(card).to_contain_text(f"@{ALEX.real_name}")  # the commander, by name

    first, second = "1. Confirm the alert reflects a real regression", "2. Check whether anything was deployed"
    step(page, first).get_by_role("button", name="Done").click()
    expect(step(page, first)).to_have_accessible_name(re.compile(f"done by @{ALEX.real_name}"))
    step(page, first).get_by_role("button", name="Undo").click()
    expect(step(page, first).get_by_role("button", name="Done")).to_be_visible()
    expect(step(page, first)).not_to_have_accessible_name(re.compile("done by"))

    act_as(page, JORDAN)
    step(page, second).get_by_role("button", name="Done").click()
    expect(step(page, second)).to_have_accessible_name(re.compile(f"done by @{JORDAN.real_name}"))

    assess = message(page, re.compile(r"Assess \(0–60 min\): 1\/11 done"))
    assess.get_by_role("button", name="Complete Assess").click()
    question = assess.get_by_role("alertdialog", name="Complete Assess?")
    expect(question).to_contain_text("10 step(s) are still open")
    question.get_by_role("button", name="Skip and complete").click()
    expect(message(page, re.compile(r"Diagnose \(1–3 h\): 0\/\d+ done"))).to_be_visible()
    expect(message(page, re.compile(r"Assess \(0–60 min\)"))).to_contain_text("phase closed")

    page.get_by_role("button", name="Skip ahead 15 minutes").click()
    ping = message(page, re.compile(r"^Escalation 1: Page the Performance Engineering Lead"))
    expect(ping).to_contain_text(f"@{PERF_LEAD.real_name}")
    ping.get_by_role("button", name="Acknowledge").click()
    expect(ping).to_contain_text(f"Acknowledged by @{JORDAN.real_name}")

    send(page, "Rolled back api to v1.4.2")
    note = message(page, "Rolled back api to v1.4.2")
    note.get_by_role("button", name="More actions").click()
    note.get_by_role("menuitem", name="Add to timeline").click()
    expect(message(page, "Added to the timeline.")).to_contain_text("Only visible to you")

    card.get_by_role("button", name="Post status update").click()
    update = page.get_by_role("dialog", name="Status update")
    expect(update.get_by_role("textbox", name="Update")).to_have_value(re.compile(r"^\[PERFORMANCE\] checkout-api"))
    update.get_by_role("textbox", name="ETA for normal performance").fill("30 minutes")
    update.get_by_role("button", name="Post update").click()
    expect(update).to_be_hidden()
    echo = message(page, re.compile(r"posted the initial status update"))
    expect(echo).to_be_visible()
    if os.environ.get("SANDBOX_SCREENSHOT"):
        echo.scroll_into_view_if_needed()
        page.screenshot(path=os.environ["SANDBOX_SCREENSHOT"])
    incident_url = page.url
    open_channel(page, re.compile(r"^#status 1 unread$"), "#status")
    expect(message(page, re.compile(r"^\[PERFORMANCE\] checkout-api"))).to_contain_text(
        "We expect normal performance within 30 minutes")
    expect(channel(page, re.compile(r"^#status$"))).to_be_visible()  # read now
    page.goto(incident_url)
    expect(page.get_by_role("heading", name=re.compile(r"^#inc-\d+-perf-checkout"), level=1)).to_be_visible()

    send(page, "/incident resolve")
    resolving = page.get_by_role("dialog", name="Resolve incident")
    resolving.get_by_role("textbox", name="Cause").fill("A slow query after the 14:02 deploy")
    resolving.get_by_role("textbox", name="Resolution").fill("Rolled back to v1.4.2")
    resolving.get_by_role("button", name="Resolve").click()
    expect(resolving).to_be_hidden()
    rca = page.get_by_role("link", name=re.compile(r"^INC-\d+-rca\.md$"))
    with page.expect_download() as download:
        rca.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert title in text and "A slow query after the 14:02 deploy" in text and "Rolled back to v1.4.2" in text
    # The timeline names people as Slack knows them, and has the skipped quarter of an hour in it.
    assert f"@{ALEX.real_name} declared the incident (P2): {title}" in text
    assert "T+15 · " in text and f"@{JORDAN.real_name} acknowledged escalation level 1" in text


def test_untrusted_text_is_shown_never_run(page: Page) -> None:
    open_channel(page, re.compile(r"^#general"), "#general")
    typed = "<img src=x onerror=alert(1)> *bold* & <https://example.com/run|a link> <javascript:alert(2)|js>"
    send(page, typed)
    said = message(page, re.compile(r"^<img src=x onerror=alert\(1\)>"))
    expect(said).to_contain_text("<img src=x onerror=alert(1)>")
    expect(said.get_by_role("strong")).to_have_text("bold")
    expect(said.get_by_role("img")).to_have_count(0)
    # What a person typed is escaped before it is sent, as Slack's clients do: no link is made of it.
    expect(said.get_by_role("link")).to_have_count(0)


def test_serve_still_refuses_to_start_without_tokens_and_names_the_sandbox(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
           "TEMPLATES_DIR": str(ROOT / "templates")}
    result = subprocess.run([sys.executable, "-m", "bot", "serve", "--http"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "setting SLACK_BOT_TOKEN: is required but not set" in result.stderr
    assert "run `python -m bot sandbox`" in result.stderr


def status_of(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["sigterm", "ctrl-c"])
def test_starts_within_30_seconds_and_a_signal_leaves_nothing_running(tmp_path: Path, sig: int, group: bool) -> None:
    sandbox = Sandbox(tmp_path)
    sandbox.start()
    try:
        assert sandbox.wait_ready(timeout=30).startswith("Sandbox ready: open http://127.0.0.1:")
        with urllib.request.urlopen(sandbox.url, timeout=10) as resp:
            assert resp.status == 200 and b'<nav aria-label="Channels"' in resp.read()
        # Another site can neither reach it under its own name nor make a visitor's browser act in it.
        assert status_of(urllib.request.Request(sandbox.url, headers={"Host": "rebound.example"})) == 421
        assert status_of(urllib.request.Request(f"{sandbox.url}ui/skip", data=b"{}", method="POST",
                                                headers={"Content-Type": "text/plain"})) == 403
        state = sandbox.state_dir()
        assert state.is_dir() and sandbox.children(), "the embedded redis-server runs as a child, data in a temp dir"
    finally:
        code, left = sandbox.stop(sig, group=group)
    log = sandbox.log.read_text()
    assert code == 0, log
    assert not left, "a redis-server outlived the sandbox"
    assert not state.exists(), "the temporary Redis folder was left behind"
    assert "sandbox stopped" in log and "Traceback" not in log and " ERROR " not in log and " WARNING " not in log, log
