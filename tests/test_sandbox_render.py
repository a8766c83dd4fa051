"""How the sandbox page draws what Slack would show (mrkdwn, Block Kit, modals) and what it sends back as
Slack sends it (slash command text, a modal's state). Pure functions, checked on their output; the browser
tests (test_sandbox.py) check the page as a person uses it."""

from __future__ import annotations

from typing import Any

from bot import modals
from bot.ids import DeclareMeta
from bot.playbook_file import load_playbooks
from bot.sandbox.blockkit_html import Drawer, modal_html
from bot.sandbox.emulator import Emulator, state_values
from bot.sandbox.mrkdwn_html import Names, to_html, to_plain
from bot.sandbox.people import cast, read_manifest
from tests.sandbox_process import ROOT

NAMES = Names(users={"U1": "Alex <Kim>"}, groups={"S1": "dev-team"}, channels={"C1": "inc-1"},
              channel_href=lambda cid: f"/?channel={cid}", now=lambda: 1_700_000_000.0)
BOOKS = load_playbooks(ROOT / "playbooks")


def test_mrkdwn_formats_like_slack_and_escapes_everything() -> None:
    assert to_html("*bold* _it_ ~gone~ `co*de*` snake_case_name", NAMES) == (
        "<strong>bold</strong> <em>it</em> <del>gone</del> <code>co*de*</code> snake_case_name")
    # Slack's entities decoded, then HTML-escaped: the text shows, nothing runs.
    assert to_html("a &lt;b&gt; &amp; <img src=x onerror=alert(1)>", NAMES) == (
        "a &lt;b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;")
    assert to_html("<@U1> <!subteam^S1> <#C1> <!here>", NAMES) == (
        '<span class="mention">@Alex &lt;Kim&gt;</span> <span class="mention">@dev-team</span> '
        '<a class="channel" href="/?channel=C1">#inc-1</a> <span class="mention">@here</span>')
    assert to_html("<https://x.test/a?b=1&amp;c=2|the &lt;b&gt;page>", NAMES) == (
        '<a href="https://x.test/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the &lt;b&gt;page</a>')
    assert "<a" not in to_html("<javascript:alert(1)|click> <data:text/html,x>", NAMES)
    assert to_html("before\n```\nkubectl get pods -l 'app=<api>'\n```\n> quoted *b*", NAMES) == (
        "before<pre><code>kubectl get pods -l 'app=&lt;api&gt;'</code></pre>"
        "<blockquote>quoted <strong>b</strong></blockquote>")
    assert to_html("<!date^1700000000^{date_short_pretty} {time}|fallback>", NAMES) == "<time>Today 22:13 UTC</time>"
    assert to_html("a \ue0000\ue001 b", NAMES) == "a 0 b"  # the renderer's placeholders can't be smuggled in


def test_plain_text_for_accessible_names() -> None:
    assert to_plain("✅ *1.* ~Check it~\n_done by <@U1> <!date^1700000000^{time}|x>_", NAMES) == (
        "✅ 1. Check it done by @Alex <Kim> 22:13 UTC")


def test_blocks_become_native_controls_named_by_their_text() -> None:
    confirm = {"title": {"type": "plain_text", "text": "Complete <Assess>?"},
               "text": {"type": "mrkdwn", "text": "*3* open"}, "confirm": {"type": "plain_text", "text": "Yes"},
               "deny": {"type": "plain_text", "text": "No"}, "style": "danger"}
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Phase <1>"}},
        {"type": "section", "block_id": "step:0:0", "text": {"type": "mrkdwn", "text": "⬜ *1.* Look"},
         "accessory": {"type": "button", "action_id": "step:0:0", "text": {"type": "plain_text", "text": "Done"},
                       "value": "{}", "style": "primary"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "complete", "text": {"type": "plain_text", "text": "Complete"},
             "confirm": confirm},
            {"type": "static_select", "action_id": "details",
             "placeholder": {"type": "plain_text", "text": "Show a step's details"},
             "options": [{"text": {"type": "plain_text", "text": "1. <Look>"}, "value": "a"}]}]},
        {"type": "video", "title": {"type": "plain_text", "text": "x"}},
    ]
    drawn = Drawer(NAMES, "m1").blocks(blocks)
    assert '<h3 class="bk-header">Phase &lt;1&gt;</h3>' in drawn
    assert ('<div class="bk-section with-accessory" role="group" aria-labelledby="m1-t-1">'
            '<div class="bk-text" id="m1-t-1">⬜ <strong>1.</strong> Look</div>') in drawn
    assert ('<button type="button" class="btn primary" data-act="button" data-block="1" data-el="-1" '
            'data-action="step:0:0">Done</button>') in drawn
    assert 'role="alertdialog" aria-modal="true" aria-labelledby="m1-confirm-2-0-t"' in drawn
    assert '<h4 id="m1-confirm-2-0-t">Complete &lt;Assess&gt;?</h4>' in drawn
    assert ('aria-label="Show a step&#x27;s details"><option value="" selected disabled>Show a step&#x27;s details'
            '</option><option value="0">1. &lt;Look&gt;</option></select>') in drawn
    assert "(a video block, which the sandbox does not draw)" in drawn


def test_a_modal_is_a_dialog_with_labelled_inputs_and_the_apps_errors_beside_them() -> None:
    view = {"id": "V1", **modals.declare_modal(BOOKS["perf"], "Checkout <slow>", DeclareMeta(playbook="perf"))}
    drawn = modal_html(view, NAMES, errors={"title": "write at least one visible character"},
                       values={"title": "  ", "private": ["0"]})
    assert 'role="dialog" aria-modal="true" aria-labelledby="modal-title"' in drawn
    assert '<h2 id="modal-title">Declare incident</h2>' in drawn
    title = ('<label for="vV1-in-1">Title</label><input type="text" id="vV1-in-1" name="title" data-block="1" '
             'data-kind="plain_text_input" aria-describedby="vV1-in-1-err" aria-invalid="true" maxlength="120"')
    assert title in drawn and 'required value="  ">' in drawn
    assert '<p class="error" id="vV1-in-1-err" role="alert">write at least one visible character</p>' in drawn
    assert '<select id="vV1-in-2" name="severity"' in drawn and '<option value="2" selected>P2</option>' in drawn
    assert '<span class="optional">(optional)</span>' in drawn and "<textarea" in drawn
    assert '<input type="checkbox" id="vV1-in-5-0" name="vV1-in-5" value="0" checked>' in drawn
    assert '<button type="button" class="btn" data-close>Cancel</button>' in drawn
    assert '<button type="submit" class="btn primary">Declare</button>' in drawn


def test_what_is_sent_back_is_what_slack_sends() -> None:
    view: dict[str, Any] = modals.declare_modal(BOOKS["perf"], "", DeclareMeta(playbook="perf"))
    values, shown = state_values(view, {"1": "Checkout slow", "2": "0", "3": "", "5": ["0"], "9": "ignored"})
    assert values["title"] == {"value": {"type": "plain_text_input", "value": "Checkout slow"}}
    assert values["severity"]["value"]["selected_option"]["value"] == "P0"
    assert values["service"] == {"value": {"type": "plain_text_input", "value": None}}
    assert [o["value"] for o in values["private"]["value"]["selected_options"]] == ["private"]
    assert values["description"] == {"value": {"type": "plain_text_input", "value": None}}
    assert shown["title"] == "Checkout slow"

    people = cast(BOOKS, {})
    emu = Emulator(people, read_manifest(), lambda: 0.0, ["#incidents"])
    lead = next(p for p in people.users if p.role == "perf-lead")
    channel = emu.channel_by_name("incidents")
    assert channel is not None
    # &, < and > escaped as Slack does; with should_escape, @name and #channel become mentions.
    assert emu.command_text(f"commander @{lead.handle} & <!channel> #incidents @nobody",
                            should_escape=True) == (
        f"commander <@{lead.id}|{lead.handle}> &amp; &lt;!channel&gt; <#{channel.id}|incidents> @nobody")
    assert emu.command_text("@dev-team a<b", should_escape=False) == "@dev-team a&lt;b"
    team = next(gid for gid, (p, _) in people.groups.items() if p.handle == "dev-team")
    assert emu.command_text("page @dev-team", should_escape=True) == f"page <!subteam^{team}|@dev-team>"
