"""One incident from `/incident drill` to the reviewed RCA, driven the way Slack drives the bot.

Signed requests go in, Web API calls come out at the local fake Slack, state lives in the real Redis; none of
the bot is mocked. Time is the bots' injected clock, moved by hand: the incident is declared 20 minutes
before Redis TIME, so the first escalation level of tests/playbooks/drill.md (`after: 20m`) is due as soon
as a scheduler runs. The replica serving requests runs none; a second replica's scheduler sends the ping
once the first phase is complete, so the channel and the timeline read in a fixed order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import keys
from slackfake import FakeSlack
from tests.conftest import Bot, BotFactory, eventually
from tests.driver import SlackDriver
from tests.flows import all_text, card, declare, phase_message, phase_messages
from tests.test_escalation import pings
from tests.test_status import open_modal, proposed, rca_file, status_posts

ALICE, BOB, LEAD = "U_ALICE", "U_BOB", "U_LEAD"
MINUTE_MS = 60_000
TITLE = "Checkout p99 above 2s"
STEP_1 = "Confirm p99 is above the alert threshold"
STEP_2 = "Check deployments in the last 30 minutes"
CAUSE, RESOLUTION = "Missing index on orders", "Added the index concurrently"


class Clock:
    """The bots' clock, moved only by the test. The scheduler reads due times by Redis TIME, not by this."""

    def __init__(self) -> None:
        self.now_ms = 0

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, minutes: int) -> None:
        self.now_ms += minutes * MINUTE_MS


@dataclass
class IncidentChannel:
    """What the test knows of the incident under way, what its channel shows, and what people do in it."""

    driver: SlackDriver
    fake: FakeSlack
    bot: Bot
    channel: str
    id: str
    declared_ms: int

    @property
    def name(self) -> str:
        return f"INC-{self.id}"

    def topic(self) -> str:
        return self.fake.channels[self.channel].topic

    def card(self) -> str:
        return all_text(card(self.fake, self.channel))

    def phase(self, index: int) -> str:
        return all_text(phase_message(self.fake, self.channel, index))

    def said(self, needle: str) -> list[Any]:
        return [m for m in self.fake.channels[self.channel].messages if needle in all_text(m)]

    async def phase_posted(self, phase: int) -> None:
        """Wait until the bot has stored where a phase message is, as it does just after Slack answers the post.

        A click that lands before that is recorded but its message is never updated, so a person who clicks
        at once loses the check-off on screen; this test waits for it like a slower person would.
        """

        async def stored() -> bool:
            return bool((await self.bot.deps.store.get(self.id)).phase_ts.get(phase))

        await eventually(stored)

    async def heard(self, needle: str) -> Any:
        """Wait for the first message in the channel that contains `needle`."""
        await until_contains(lambda: "\n\n".join(all_text(m) for m in self.fake.channels[self.channel].messages),
                             needle)
        return self.said(needle)[0]

    async def edited(self, message: Any) -> Any:
        """Wait until the bot has edited `message`, and return it as it is now."""
        await eventually(lambda: self.fake.message(self.channel, message.ts).updated_count)
        return self.fake.message(self.channel, message.ts)

    def lines(self, message: Any) -> list[str]:
        """Each block's text as a person reads it, Slack dates shown as minutes after the declaration."""
        return [relative_dates(text, self.declared_ms) for text in block_texts(message)]

    async def press(self, phase: int, action_id: str, user: str, shows: str) -> str:
        """Click a button of a phase message as it is now, and wait until the message shows `shows`."""
        await self.driver.click(phase_message(self.fake, self.channel, phase), action_id, user=user,
                                url=self.bot.url)
        await until_contains(lambda: self.phase(phase), shows)
        return self.phase(phase)

    async def command(self, text: str, user: str) -> None:
        status, body, _ = await self.driver.command(text, user=user, channel=self.channel, url=self.bot.url)
        assert status == 200, body

    async def modal(self, command: str, user: str) -> dict[str, Any]:
        return await open_modal(self.driver, self.bot, self.fake, self.channel, command, user)

    async def submit(self, view: dict[str, Any], values: dict[str, Any], user: str) -> None:
        status, body = await self.driver.submit_view(view, values, user=user, url=self.bot.url)
        assert status == 200 and body == "", body


async def until_equal(get: Callable[[], Any], expected: Any) -> None:
    """Wait until `get()` is `expected`; a failure says what it was instead."""

    def check() -> bool:
        assert get() == expected, f"{get()!r} != {expected!r}"
        return True

    await eventually(check)


async def until_contains(get: Callable[[], Any], expected: str) -> None:
    """Wait until `get()` contains `expected`; a failure says what it was instead."""

    def check() -> bool:
        assert expected in get(), f"{expected!r} not in {get()!r}"
        return True

    await eventually(check)


def block_texts(message: Any) -> list[str]:
    out = []
    for block in message.blocks:
        parts = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        out += [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return out


def relative_dates(text: str, declared_ms: int) -> str:
    """`<!date^SECONDS^…|fallback>` as `[T+Nm]`, so a check can be exact without knowing the wall clock."""
    return re.sub(r"<!date\^(\d+)\^[^>]*>",
                  lambda m: f"[T+{(int(m.group(1)) - declared_ms // 1000) // 60}m]", text)


def buttons(message: Any) -> list[str]:
    """action_ids of everything a person can press or pick in a message."""
    elements = [el for b in message.blocks for el in [b.get("accessory"), *b.get("elements", [])]]
    return [el["action_id"] for el in elements if isinstance(el, dict) and "action_id" in el]


def done_line(number: int, text: str, by: str) -> str:
    return f"✅ *{number}.* ~{text}~\n_done by <@{by}>"


def rca_timeline(content: str) -> list[tuple[int, str]]:
    """The RCA draft's timeline as (minutes after declaration, sentence); the UTC clock time is dropped."""
    return [(int(m), text) for m, text in re.findall(r"^- T\+(\d+) · \d\d:\d\d · (.*)$", content, re.M)]


async def declare_drill(make_bot: BotFactory, driver: SlackDriver, fake: FakeSlack,
                        clock: Clock) -> IncidentChannel:
    """`/incident drill …` and the modal, 20 minutes before Redis TIME; checks everything set-up shows."""
    bot = await make_bot(clock=clock, run_scheduler=False)
    seconds, micros = await bot.deps.store.redis.time()
    clock.now_ms = int(seconds) * 1000 + int(micros) // 1000 - 20 * MINUTE_MS
    declared = await declare(driver, bot, fake, f"drill {TITLE}", service="checkout-api",
                             description="p99 at 2.4 s since the 14:00 deploy")
    title_input = next(b for b in declared.view["blocks"] if b.get("block_id") == "title")
    assert title_input["element"]["initial_value"] == TITLE
    inc = IncidentChannel(driver, fake, bot, declared.channel, declared.incident_id, clock.now_ms)

    channel = fake.channels[inc.channel]
    day = datetime.fromtimestamp(clock.now_ms / 1000, UTC).strftime("%Y%m%d")
    assert channel.name == f"inc-{day}-drill-checkout-p99-above-2s"
    await eventually(lambda: {"U_DECLARER", "U_ONCALL"} <= channel.members)
    assert len(channel.pins) == 1
    for expected in (f"{inc.name} · {TITLE}", "*Severity*\nP2", "*Status*\n🔴 Open", "*Phase*\nAssess",
                     "*Commander*\n<@U_DECLARER>", "*Affected service*\ncheckout-api"):
        assert expected in inc.card(), expected
    assert buttons(card(fake, inc.channel)) == ["status_update"]
    first = phase_message(fake, inc.channel, 0)
    assert inc.lines(first) == ["Phase 1 of 4 · Assess", "Confirm the slowdown is real and size it.",
                                f"⬜ *1.* {STEP_1}", f"⬜ *2.* {STEP_2}", "0 of 2 steps done"]
    assert buttons(first) == ["step:0:0", "step:0:1", "complete_phase:0"]
    await until_equal(inc.topic, f"P2 · {TITLE} · Assess · {inc.name}")
    await inc.phase_posted(0)
    announced = await eventually(lambda: fake.channel_by_name("incidents").messages)
    assert inc.lines(announced[0]) == [
        f"🚨 *{inc.name}* [P2] {TITLE} — declared by <@U_DECLARER> with the *Checkout latency drill* playbook. "
        f"Join <#{inc.channel}>."]
    return inc


async def check_rca_draft(inc: IncidentChannel) -> None:
    """The RCA file posted on resolve: the summary, and the whole timeline up to the resolved update."""
    await inc.fake.wait_for("files.completeUploadExternal")
    record, content, _ = rca_file(inc.fake)
    assert record["name"] == f"{inc.name}-rca.md"
    assert [m.files[0]["name"] for m in inc.fake.channels[inc.channel].messages if m.files] == [record["name"]]
    for expected in ("| Duration | 40m |", "| Escalations | 1 |", "| Status updates posted | 2 |",
                     f"**Primary cause:** {CAUSE}", f"**How it was resolved:** {RESOLUTION}"):
        assert expected in content, expected
    expected_timeline = [
        (0, f"@declarer declared the incident (P2): {TITLE}"),
        (0, f"Incident channel #{inc.fake.channels[inc.channel].name} created"),
        (20, f"@alice completed “{STEP_1}”"),
        (20, f"@bob completed “{STEP_2}”"),
        (20, f"@bob reopened “{STEP_2}”"),
        (20, f"@alice completed “{STEP_2}”"),
        (20, "@alice completed the Assess phase"),
        (20, "Escalation level 1: Page the Performance Engineering Lead"),
        (21, "@lead acknowledged escalation level 1"),
        (25, "@alice changed severity P2 → P1"),
        (25, "@alice posted the initial status update: [PERFORMANCE] checkout-api: slower than normal"),
        (40, "@bob skipped 1 open step(s) of Diagnose"),
        (40, "@bob completed the Diagnose phase"),
        (40, f"@bob resolved the incident. Cause: {CAUSE}"),
        (40, "@bob posted the resolved status update: [RESOLVED] checkout-api: performance back to normal"),
    ]
    actual = rca_timeline(content)
    assert len(actual) == len(expected_timeline), actual
    for (minutes, text), (want_minutes, want) in zip(actual, expected_timeline, strict=True):
        assert minutes == want_minutes and text.startswith(want), (minutes, text)


async def check_final_state(inc: IncidentChannel) -> None:
    """What the channel and Redis show once the RCA is reviewed."""
    final_card = card(inc.fake, inc.channel)
    assert inc.lines(final_card)[:11] == [
        f"{inc.name} · {TITLE}", "*Severity*\nP1", "*Status*\n🟢 Resolved", "*Phase*\nResolved",
        "*Commander*\n<@U_DECLARER>", "*Declared by*\n<@U_DECLARER> [T+0m]",
        "*Playbook*\nCheckout latency drill (`drill`)", "*Affected service*\ncheckout-api",
        "*Resolved*\n[T+40m] after 40m", f"*RCA*\nReviewed by <@{ALICE}> [T+40m]",
        "*Description*\np99 at 2.4 s since the 14:00 deploy"]
    assert f"*Cause*\n{CAUSE}\n*Resolution*\n{RESOLUTION}" in inc.lines(final_card)
    assert buttons(final_card) == []
    # The phase messages, closed and without buttons; Mitigate and Resolve were never reached:
    assert [inc.lines(m) for m in phase_messages(inc.fake, inc.channel)] == [
        ["Phase 1 of 4 · Assess", "Confirm the slowdown is real and size it.",
         f"{done_line(1, STEP_1, ALICE)} [T+20m]_", f"{done_line(2, STEP_2, ALICE)} [T+20m]_",
         "2 of 2 steps done · phase closed"],
        ["Phase 2 of 4 · Diagnose", f"⏭️ *1.* ~Find the slow component~\n_skipped when the phase was completed by "
         f"<@{BOB}>_", "0 of 1 steps done, 1 skipped · phase closed"]]
    assert [buttons(m) for m in phase_messages(inc.fake, inc.channel)] == [[], []]
    # The topic, one ping, and nothing refused by Slack or told to anyone as an error along the way:
    assert inc.topic() == f"P1 · {TITLE} · RESOLVED · {inc.name}"
    assert len(pings(inc.fake, inc.channel)) == 1
    assert [(c.method, c.error) for c in inc.fake.calls if not c.ok] == []
    assert inc.fake.response_posts == [] and not inc.said("⚠️")
    # The timeline in Redis, who and when; nothing is left scheduled (the RCA reminder went with the review).
    events = await inc.bot.deps.store.timeline(inc.id)
    assert [(e.type, e.actor, (e.at - inc.declared_ms) // MINUTE_MS) for e in events] == [
        ("declared", "U_DECLARER", 0), ("channel_created", "bot", 0),
        ("step_done", ALICE, 20), ("step_done", BOB, 20), ("step_undone", BOB, 20), ("step_done", ALICE, 20),
        ("phase_completed", ALICE, 20), ("escalated", "bot", 20), ("escalation_acknowledged", LEAD, 21),
        ("severity_changed", ALICE, 25), ("status_update", ALICE, 25),
        ("steps_skipped", BOB, 40), ("phase_completed", BOB, 40), ("resolved", BOB, 40),
        ("status_update", BOB, 40), ("rca_posted", "bot", 40), ("rca_reviewed", ALICE, 40)]
    redis = inc.bot.deps.store.redis
    assert await redis.zcard(keys.due()) == 0 and await redis.zcard(keys.rca_due()) == 0


async def test_incident_from_declaration_to_reviewed_rca(make_bot, driver, fake_slack):
    clock = Clock()
    inc = await declare_drill(make_bot, driver, fake_slack, clock)

    # Twenty minutes in, two people work through Assess; one check-off is undone and done again.
    clock.advance(20)
    await inc.press(0, "step:0:0", ALICE, shows="1 of 2 steps done")
    await inc.press(0, "step:0:1", BOB, shows="2 of 2 steps done")
    undone = await inc.press(0, "step:0:1", BOB, shows="1 of 2 steps done")
    assert f"⬜ *2.* {STEP_2}" in undone and done_line(1, STEP_1, ALICE) in undone
    await inc.press(0, "step:0:1", ALICE, shows="2 of 2 steps done")
    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user=ALICE, url=inc.bot.url)
    diagnose = await eventually(lambda: phase_message(fake_slack, inc.channel, 1))
    assert inc.lines(diagnose) == ["Phase 2 of 4 · Diagnose", "⬜ *1.* Find the slow component", "0 of 1 steps done"]
    assert buttons(diagnose) == ["step:1:0", "complete_phase:1"]
    await inc.phase_posted(1)
    await until_contains(lambda: inc.phase(0), "phase closed")
    assert buttons(phase_message(fake_slack, inc.channel, 0)) == []
    await until_contains(inc.card, "*Phase*\nDiagnose")
    await until_equal(inc.topic, f"P2 · {TITLE} · Diagnose · {inc.name}")

    # A replica with a scheduler comes up; the 20-minute escalation is due and goes out. A minute later the
    # lead acknowledges it on that replica: any replica serves any click.
    replica = await make_bot(clock=clock, late_after_seconds=60)
    ping = (await eventually(lambda: pings(fake_slack, inc.channel)))[0]
    assert inc.lines(ping) == [
        f"🚨 *Escalation 1/2: Page the Performance Engineering Lead*\n<@{LEAD}>\n"
        f"*{inc.name}* · {TITLE} · *P2* · phase Diagnose · open for 20m"]
    assert buttons(ping) == ["ack_escalation:0"]
    clock.advance(1)
    await driver.click(ping, "ack_escalation:0", user=LEAD, url=replica.url)
    acked = await inc.edited(ping)
    assert inc.lines(acked)[1:] == [f"✅ Acknowledged by <@{LEAD}> [T+21m]"] and buttons(acked) == []

    # At T+25: severity up, then the first status update, left as proposed with an ETA.
    clock.advance(4)
    await inc.command("sev P1", ALICE)
    await inc.heard(f"Severity changed P2 → *P1* by <@{ALICE}>.")
    await until_contains(inc.card, "*Severity*\nP1")
    await until_equal(inc.topic, f"P1 · {TITLE} · Diagnose · {inc.name}")
    view = await inc.modal("status", ALICE)
    assert proposed(view).startswith("[PERFORMANCE] checkout-api: slower than normal")
    await inc.submit(view, {"text": proposed(view), "eta": "30 minutes"}, ALICE)
    update = all_text((await eventually(lambda: status_posts(fake_slack)))[0])
    assert update.startswith("[PERFORMANCE] checkout-api: slower than normal")
    assert "We expect normal performance within 30 minutes." in update
    assert update.endswith(f"{inc.name} · {TITLE} · initial update")
    status_channel = fake_slack.channel_by_name("status").id
    await inc.heard(f"📣 <@{ALICE}> posted the initial status update to <#{status_channel}>:")

    # At T+40 it is resolved from Diagnose, whose open step is skipped.
    clock.advance(15)
    view = await inc.modal("resolve", BOB)
    assert view["title"]["text"] == "Resolve incident"
    await inc.submit(view, {"cause": CAUSE, "resolution": RESOLUTION}, BOB)
    await inc.heard(
        f"✅ *{inc.name} resolved* by <@{BOB}> after 40m.\n*Cause:* {CAUSE}\n*Resolution:* {RESOLUTION}")
    await until_contains(inc.card, "*Status*\n🟢 Resolved")
    await until_equal(inc.topic, f"P1 · {TITLE} · RESOLVED · {inc.name}")
    resolved_update = all_text((await eventually(lambda: status_posts(fake_slack)[1:]))[0])
    assert resolved_update.startswith("[RESOLVED] checkout-api: performance back to normal")
    assert f"Caused by: {CAUSE}\nResolved by: {RESOLUTION}" in resolved_update
    assert "(the incident lasted 40m)" in resolved_update
    announced = await eventually(lambda: fake_slack.channel_by_name("incidents").messages[1:])
    assert inc.lines(announced[0]) == [f"✅ *{inc.name}* [P1] {TITLE} — resolved after 40m. <#{inc.channel}>"]

    await check_rca_draft(inc)

    # The team reviews it with the button posted under the draft.
    review = await inc.heard("Mark RCA reviewed")
    await driver.click(review, "rca_reviewed", user=ALICE, url=inc.bot.url)
    await until_contains(inc.card, f"*RCA*\nReviewed by <@{ALICE}>")
    await inc.heard(f"✅ <@{ALICE}> marked the RCA for *{inc.name}* reviewed.")
    reviewed = await inc.edited(review)
    assert inc.lines(reviewed)[-1] == f"✅ RCA marked reviewed by <@{ALICE}> [T+40m]" and buttons(reviewed) == []

    await check_final_state(inc)
