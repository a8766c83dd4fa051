"""Steps that many tests share: declaring an incident through the modal, finding its messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slackfake import FakeSlack
from tests.conftest import Bot, eventually
from tests.driver import SlackDriver


@dataclass
class Declared:
    channel: str
    incident_id: str
    view: dict[str, Any]


async def open_declare_modal(driver: SlackDriver, bot: Bot, fake: FakeSlack, text: str,
                             user: str = "U_DECLARER") -> dict[str, Any]:
    before = len(fake.calls_to("views.open"))
    status, body, _ = await driver.command(text, user=user, url=bot.url)
    assert status == 200, body
    calls = await fake.wait_for("views.open", before + 1)
    view: dict[str, Any] = calls[-1].response["view"]
    # Bound once Slack has answered views.open; a person can't submit sooner, a test could.
    await eventually(lambda: bot.deps.store.view_binding(view["id"]))
    return view


async def command_modal(driver: SlackDriver, bot: Bot, fake: FakeSlack, command: str, channel: str,
                        user: str = "U_DECLARER") -> tuple[dict[str, Any], str]:
    """The modal `/incident <command>` opens at once and then fills in with the incident (views.open, then
    views.update of the same view), as filled in; and the key of the command's response_url."""
    before = len(fake.calls_to("views.open"))
    _, _, key = await driver.command(command, user=user, channel=channel, url=bot.url)
    opened = (await fake.wait_for("views.open", before + 1))[-1].response["view"]
    filled = await fake.wait_for("views.update", where=lambda c: c.args.get("view_id") == opened["id"])
    view: dict[str, Any] = filled[-1].response["view"]
    return view, key


def modal_values(title: str, severity: str = "P2", service: str = "", description: str = "") -> dict[str, Any]:
    return {"title": title, "severity": {"type": "static_select", "selected_option": {"value": severity}},
            "service": service, "description": description}


async def declare(driver: SlackDriver, bot: Bot, fake: FakeSlack, text: str = "quick Checkout is slow",
                  *, title: str | None = None, user: str = "U_DECLARER", **values: Any) -> Declared:
    view = await open_declare_modal(driver, bot, fake, text, user)
    title = title if title is not None else text.partition(" ")[2]
    created_before = len(_created(fake))
    status, body = await driver.submit_view(view, modal_values(title, **values), user=user, url=bot.url)
    assert status == 200, body
    channel = await eventually(lambda: len(_created(fake)) > created_before and _created(fake)[-1])
    incident_id = await eventually(lambda: bot.deps.store.incident_for_channel(channel))
    await eventually(lambda: len(phase_messages(fake, channel)) >= 1)
    # Set-up is over once the card is pinned (or pinning was refused).
    await eventually(lambda: fake.channels[channel].pins or any(c.response and not c.ok
                                                                for c in fake.calls_to("pins.add")))
    return Declared(channel=channel, incident_id=incident_id, view=view)


def _created(fake: FakeSlack) -> list[str]:
    """Ids of the channels the bot created, in order."""
    return [c.response["channel"]["id"] for c in fake.calls_to("conversations.create") if c.ok]


def phase_messages(fake: FakeSlack, channel: str) -> list[Any]:
    return [m for m in fake.channels[channel].messages
            if m.blocks and m.blocks[0].get("type") == "header" and "Phase " in m.blocks[0]["text"]["text"]]


def phase_message(fake: FakeSlack, channel: str, phase: int) -> Any:
    for m in phase_messages(fake, channel):
        if m.blocks[0]["text"]["text"].startswith(f"Phase {phase + 1} of"):
            return m
    raise AssertionError(f"no message for phase {phase + 1}")


def card(fake: FakeSlack, channel: str) -> Any:
    ch = fake.channels[channel]
    assert ch.pins, "nothing pinned"
    return fake.message(channel, ch.pins[0])


def _texts(node: Any, kinds: tuple[str, ...], out: list[str]) -> list[str]:
    if isinstance(node, dict):
        if node.get("type") in kinds and isinstance(node.get("text"), str):
            out.append(node["text"])
        for v in node.values():
            _texts(v, kinds, out)
    elif isinstance(node, list):
        for v in node:
            _texts(v, kinds, out)
    return out


def mrkdwn_texts(args: dict[str, Any]) -> list[str]:
    """Every string Slack would parse for mentions: the top-level text and mrkdwn objects."""
    return _texts(args.get("blocks") or [], ("mrkdwn",), [str(args.get("text") or "")])


def all_text(message: Any) -> str:
    """Every text a person sees in a message, blocks included."""
    return "\n".join(_texts(message.blocks or [], ("mrkdwn", "plain_text"), [message.text or ""]))
