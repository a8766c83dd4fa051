"""The sandbox's Slack side against a stand-in app that answers what each test tells it to: requests signed
and shaped as Slack's, the answers handled as Slack handles them (a reply only the person sees, a modal's
`response_action`), and what the person is told when the app fails, is slow or is gone."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from bot.playbook_file import load_playbooks
from bot.sandbox.emulator import Emulator
from bot.sandbox.people import cast, read_manifest
from slackfake.delivery import signature
from slackfake.loopback import Loopback
from tests.sandbox_process import ROOT

SECRET = "stand-in-secret"
PEOPLE = cast(load_playbooks(ROOT / "playbooks"), {})
ALEX = PEOPLE.responders[0].id


class StandIn(Loopback):
    """An app at /slack/events: checks the signature, keeps what it got, answers (status, JSON, delay)."""

    def __init__(self) -> None:
        self.answers: deque[tuple[int, dict[str, Any], float]] = deque()
        self.received: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/slack/events", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.text()
        stamp = int(request.headers["X-Slack-Request-Timestamp"])
        assert request.headers["X-Slack-Signature"] == signature(SECRET, stamp, raw)
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        self.received.append(json.loads(form["payload"]) if "payload" in form else form)
        status, body, delay = self.answers.popleft() if self.answers else (200, {}, 0.0)
        await asyncio.sleep(delay)
        return web.json_response(body, status=status) if body else web.Response(status=status)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[Emulator, StandIn]]:
    emu = Emulator(PEOPLE, read_manifest(), lambda: 1_700_000_000.0, ["#incidents"])
    app = StandIn()
    await emu.start()
    await app.start()
    async with aiohttp.ClientSession() as session:
        emu.connect(f"http://127.0.0.1:{app.port}/slack/events", SECRET, session)
        yield emu, app
    await app.stop()
    await emu.stop()


def incidents(emu: Emulator) -> str:
    channel = emu.channel_by_name("incidents")
    assert channel is not None
    return channel.id


async def test_a_slash_command_arrives_signed_and_its_answer_only_the_person_sees(sandbox):
    emu, app = sandbox
    app.answers.append((200, {"text": "Only for you"}, 0.0))
    await emu.send(ALEX, incidents(emu), "/incident help & <more>")
    form = app.received[-1]
    assert form["command"] == "/incident" and form["text"] == "help &amp; &lt;more&gt;"
    assert form["user_id"] == ALEX and form["channel_id"] == incidents(emu) and form["trigger_id"]
    shown = emu.messages(ALEX, incidents(emu))
    assert [(m.text, m.visible_to) for m in shown] == [("Only for you", ALEX)]
    assert emu.messages(PEOPLE.responders[1].id, incidents(emu)) == []
    # A later reply to the command's response_url lands there too.
    async with aiohttp.ClientSession() as session, session.post(form["response_url"], json={"text": "Later"}) as r:
        assert r.status == 200
    assert [m.text for m in emu.messages(ALEX, incidents(emu))] == ["Only for you", "Later"]
    assert emu.unread(ALEX, incidents(emu)) == 2
    emu.mark_read(ALEX, incidents(emu))
    assert emu.unread(ALEX, incidents(emu)) == 0


async def test_a_modal_follows_the_apps_response_action(sandbox):
    emu, app = sandbox

    def view(title: str) -> dict[str, Any]:
        return {"type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": title},
                "submit": {"type": "plain_text", "text": "Save"},
                "blocks": [{"type": "input", "block_id": "name", "label": {"type": "plain_text", "text": "Name"},
                            "element": {"type": "plain_text_input", "action_id": "value"}}]}

    opened = emu.api_views_open({"trigger_id": emu.new_trigger_id(ALEX), "view": view("First")})["view"]
    assert emu.modal(ALEX)["id"] == opened["id"] and emu.modal(PEOPLE.responders[1].id) is None

    app.answers.append((200, {"response_action": "errors", "errors": {"name": "Too short"}}, 0.0))
    await emu.submit(ALEX, opened["id"], {"0": "Al"})
    assert app.received[-1]["view"]["state"]["values"] == {"name": {"value": {"type": "plain_text_input",
                                                                             "value": "Al"}}}
    assert emu.view_errors[opened["id"]] == {"name": "Too short"} and emu.view_values[opened["id"]] == {"name": "Al"}
    app.answers.append((200, {"response_action": "update", "view": view("Second")}, 0.0))
    await emu.submit(ALEX, opened["id"], {"0": "Alex"})
    assert emu.modal(ALEX)["title"]["text"] == "Second" and opened["id"] not in emu.view_errors
    app.answers.append((200, {"response_action": "push", "view": view("Third")}, 0.0))
    await emu.submit(ALEX, opened["id"], {"0": "Alex"})
    pushed = emu.modal(ALEX)
    assert pushed["title"]["text"] == "Third" and len(emu.modals[ALEX]) == 2
    await emu.submit(ALEX, pushed["id"], {"0": "Alex"})  # an empty answer closes the view submitted
    assert emu.modal(ALEX)["id"] == opened["id"]
    app.answers.append((200, {"response_action": "clear"}, 0.0))
    await emu.submit(ALEX, opened["id"], {"0": "Alex"})
    assert emu.modal(ALEX) is None


async def test_an_app_that_fails_is_slow_or_gone_is_reported_not_waited_for(sandbox):
    emu, app = sandbox
    channel = incidents(emu)
    app.answers.append((500, {}, 0.0))
    await emu.send(ALEX, channel, "/incident help")
    assert emu.notices[ALEX] == "incident-bot answered HTTP 500, so Slack would show an error here."
    app.answers.append((200, {"text": "too late"}, 4.0))
    await emu.send(ALEX, channel, "/incident help")
    assert emu.notices[ALEX].startswith("incident-bot did not answer within 3 seconds")
    await app.stop()
    await emu.send(ALEX, channel, "/incident help")
    assert emu.notices[ALEX].startswith("incident-bot could not be reached")
    assert emu.messages(ALEX, channel) == []  # no answer was shown for any of them
