"""Phases and check-offs through signed requests, on one or several replicas sharing Redis."""

from __future__ import annotations

import asyncio

from tests.conftest import eventually
from tests.flows import all_text, card, command_modal, declare, phase_message

ALICE, BOB = "U_ALICE", "U_BOB"


def stale(message):
    """The message as first posted, as a client that missed the updates still shows it."""
    return type(message)(**{**message.__dict__, "blocks": message.versions[0]["blocks"]})


def step_action(phase: int, step: int) -> str:
    return f"step:{phase}:{step}"


async def done_count(fake, channel, phase) -> int:
    return all_text(phase_message(fake, channel, phase)).count("✅")


async def test_full_walk_of_four_phases_by_two_people(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Full walk")
    book = bot.deps.playbooks["quick"]
    for p, phase in enumerate(book.phases):
        msg = phase_message(fake_slack, inc.channel, p)
        for s in range(len(phase.steps)):
            who = ALICE if s % 2 == 0 else BOB
            status, _ = await driver.click(phase_message(fake_slack, inc.channel, p), step_action(p, s),
                                           user=who, url=bot.url)
            assert status == 200
            await eventually(lambda p=p, s=s: all_text(phase_message(fake_slack, inc.channel, p)).count("✅") == s + 1)
        text = all_text(phase_message(fake_slack, inc.channel, p))
        assert "<@U_ALICE>" in text and (len(phase.steps) == 1 or "<@U_BOB>" in text)
        # All done: no confirmation needed to complete.
        msg = phase_message(fake_slack, inc.channel, p)
        if p < 3:
            from tests.driver import find_element

            assert "confirm" not in find_element(msg.blocks, f"complete_phase:{p}")
            await driver.click(msg, f"complete_phase:{p}", user=ALICE, url=bot.url)
            nxt = await eventually(lambda p=p: phase_message(fake_slack, inc.channel, p + 1))
            assert f"Phase {p + 2} of 4" in all_text(nxt)
            await eventually(lambda p=p: book.phases[p + 1].title in all_text(card(fake_slack, inc.channel)))
    # Completing Resolve asks for cause and resolution, then resolves.
    before = len(fake_slack.calls_to("views.open"))
    await driver.click(phase_message(fake_slack, inc.channel, 3), "complete_phase:3", user=BOB, url=bot.url)
    view = (await fake_slack.wait_for("views.open", before + 1))[-1].response["view"]
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Cause", "Resolution"]
    await driver.submit_view(view, {"cause": "Missing index on orders", "resolution": "Added the index"},
                             user=BOB, url=bot.url)
    await eventually(lambda: "Resolved" in all_text(card(fake_slack, inc.channel)))
    await eventually(lambda: "phase closed" in all_text(phase_message(fake_slack, inc.channel, 3)))
    incident = await bot.deps.store.get(inc.incident_id)
    assert incident.status == "resolved" and incident.cause == "Missing index on orders"
    types = [e.type for e in await bot.deps.store.timeline(inc.incident_id)]
    assert types.count("step_done") == sum(len(p.steps) for p in book.phases)
    # The resolved status update and the RCA draft follow the resolve itself.
    after = ("status_update", "rca_posted")
    assert types.count("phase_completed") == 4 and [t for t in types if t not in after][-1] == "resolved"
    assert "steps_skipped" not in types
    # Nothing is left to press on a resolved incident's messages.
    for p in range(4):
        assert "Done" not in all_text(phase_message(fake_slack, inc.channel, p)).split("Phase")[0]


async def test_seven_simultaneous_clicks_on_two_replicas(make_bot, driver, fake_slack):
    fake_slack.jitter = 0.05
    bot_a = await make_bot()
    bot_b = await make_bot()
    inc = await declare(driver, bot_a, fake_slack, "wide Many hands")
    msg = phase_message(fake_slack, inc.channel, 0)
    users = ["U_ALICE", "U_BOB", "U_ONCALL", "U_LEAD", "U_IM", "U_VP", "U_P1"]
    clicks = [driver.click(msg, step_action(0, s), user=users[s], url=(bot_a if s % 2 else bot_b).url)
              for s in range(7)]
    results = await asyncio.gather(*clicks)
    assert all(status == 200 for status, _ in results)

    async def settled() -> bool:
        await asyncio.sleep(0.3)  # let every in-flight chat.update land
        return all_text(phase_message(fake_slack, inc.channel, 0)).count("✅") == 7

    await eventually(settled, timeout=10)
    final = all_text(phase_message(fake_slack, inc.channel, 0))
    for s in range(7):
        assert f"<@{users[s]}>" in final
    assert "7 of 8 steps done" in final
    events = [e for e in await bot_a.deps.store.timeline(inc.incident_id) if e.type == "step_done"]
    assert sorted(e.data["step"] for e in events) == list(range(7))


async def test_same_step_clicked_twice_at_once_completes_once(make_bot, driver, fake_slack):
    bot_a = await make_bot()
    bot_b = await make_bot()
    inc = await declare(driver, bot_a, fake_slack, "quick Double click")
    msg = phase_message(fake_slack, inc.channel, 0)
    await asyncio.gather(driver.click(msg, step_action(0, 1), user=ALICE, url=bot_a.url),
                         driver.click(msg, step_action(0, 1), user=BOB, url=bot_b.url))
    await eventually(lambda: all_text(phase_message(fake_slack, inc.channel, 0)).count("✅") == 1)
    await asyncio.sleep(0.2)
    events = [e for e in await bot_a.deps.store.timeline(inc.incident_id) if e.type == "step_done"]
    assert len(events) == 1


async def test_undo(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Undo it")
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
    await eventually(lambda: "Undo" in all_text(phase_message(fake_slack, inc.channel, 0)))
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
    await eventually(lambda: "Undo" not in all_text(phase_message(fake_slack, inc.channel, 0)))
    assert "✅" not in all_text(phase_message(fake_slack, inc.channel, 0))
    types = [e.type for e in await bot.deps.store.timeline(inc.incident_id)]
    assert types.count("step_done") == 1 and types.count("step_undone") == 1


async def test_complete_with_open_steps_confirms_and_skips(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Skip some")
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
    await eventually(lambda: "1 of 3 steps done" in all_text(phase_message(fake_slack, inc.channel, 0)))
    from tests.driver import find_element

    button = find_element(phase_message(fake_slack, inc.channel, 0).blocks, "complete_phase:0")
    assert "2 step(s) are still open" in button["confirm"]["text"]["text"]
    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user=BOB, url=bot.url)
    await eventually(lambda: phase_message(fake_slack, inc.channel, 1))
    await eventually(lambda: all_text(phase_message(fake_slack, inc.channel, 0)).count("⏭️") == 2)
    skipped = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "steps_skipped"]
    assert skipped[0].data["steps"] == [1, 2]
    # A second click on the old Complete button changes nothing and says so.
    await driver.click(stale(phase_message(fake_slack, inc.channel, 0)), "complete_phase:0", user=BOB, url=bot.url)
    reply = await eventually(lambda: [b for k, b in fake_slack.response_posts if k.startswith("click-")])
    assert "already completed" in reply[0]["text"]
    assert len([m for m in fake_slack.channels[inc.channel].messages if "Phase 2 of 4" in all_text(m)]) == 1


async def test_restart_between_clicks(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Restart between")
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
    await eventually(lambda: "1 of 3" in all_text(phase_message(fake_slack, inc.channel, 0)))
    await bot.stop()
    fresh = await make_bot()
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 1), user=BOB, url=fresh.url)
    await eventually(lambda: "2 of 3" in all_text(phase_message(fake_slack, inc.channel, 0)))


async def test_click_after_resolve_gets_polite_answer(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Resolve first")
    view, _ = await command_modal(driver, bot, fake_slack, "resolve", inc.channel)
    # Empty fields are refused in the modal itself.
    status, body = await driver.submit_view(view, {"cause": " ", "resolution": ""}, url=bot.url)
    assert "errors" in body and "cause" in body
    await driver.submit_view(view, {"cause": "Bad deploy", "resolution": "Rolled back"}, url=bot.url)
    await eventually(lambda: "Resolved" in all_text(card(fake_slack, inc.channel)))
    assert any("resolved" in all_text(m) for m in fake_slack.channels[inc.channel].messages)
    # Resolving is over once every message shows it and the RCA's review message is posted.
    await eventually(lambda: "phase closed" in all_text(phase_message(fake_slack, inc.channel, 0))
                     and any("Mark RCA reviewed" in all_text(m) for m in fake_slack.channels[inc.channel].messages)
                     and "resolved after" in all_text(fake_slack.channel_by_name("incidents").messages[0]))
    updates = len(fake_slack.calls_to("chat.update"))
    msg = phase_message(fake_slack, inc.channel, 0)
    # An old message still showing buttons (e.g. a stale client) is answered privately.
    await driver.click(stale(msg), step_action(0, 0), user=ALICE, url=bot.url)
    reply = await eventually(lambda: [b for k, b in fake_slack.response_posts if k.startswith("click-")])
    assert "already resolved" in reply[0]["text"]
    assert len(fake_slack.calls_to("chat.update")) == updates


async def test_commands_in_channel(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Commands")
    # As Slack sends what was typed ("Rolled back <!channel> & @here, p99 > 2s"): entities escaped, @here as markup.
    await driver.command("note Rolled back &lt;!channel&gt; &amp; <!here>, p99 &gt; 2s", user=ALICE,
                         channel=inc.channel, url=bot.url, markup=True)
    echo = await eventually(lambda: [m for m in fake_slack.channels[inc.channel].messages if "noted" in m.text])
    typed_once = "Rolled back &lt;!channel&gt; &amp; @here, p99 &gt; 2s"
    assert typed_once in echo[0].text and "<!here>" not in echo[0].text
    await driver.command("sev p1", user=ALICE, channel=inc.channel, url=bot.url)
    await eventually(lambda: "P1" in all_text(card(fake_slack, inc.channel)))
    await eventually(lambda: fake_slack.channels[inc.channel].topic.startswith("P1"))
    await driver.command("commander <@U_BOB|bob>", user=ALICE, channel=inc.channel, url=bot.url, markup=True)
    await eventually(lambda: "*Commander*\n<@U_BOB>" in all_text(card(fake_slack, inc.channel)))
    _, _, key = await driver.command("sev P9", user=ALICE, channel=inc.channel, url=bot.url)
    bad = await eventually(lambda: [b for k, b in fake_slack.response_posts if k == key])
    assert "P0, P1, P2, P3, P4" in bad[0]["text"]
    _, _, key = await driver.command("timeline", user=ALICE, channel=inc.channel, url=bot.url)
    shown = await eventually(lambda: [b for k, b in fake_slack.response_posts if k == key])
    assert shown[0]["response_type"] == "ephemeral"
    text = str(shown[0]["blocks"])
    for expected in ("declared the incident", f"noted: {typed_once}", "changed severity P2 → P1",
                     "made <@U_BOB> incident commander"):
        assert expected in text, expected
    types = [e.type for e in await bot.deps.store.timeline(inc.incident_id)]
    assert {"note", "severity_changed", "commander_changed"} <= set(types)
    # Outside an incident channel the commands explain themselves.
    _, _, key = await driver.command("note hi", channel="C_GENERAL", url=bot.url)
    reply = await eventually(lambda: [b for k, b in fake_slack.response_posts if k == key])
    assert "inside an incident channel" in reply[0]["text"]


async def test_add_message_to_timeline_shortcut(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Shortcut")
    said = fake_slack.post_as("U_BOB", inc.channel, "p99 back to 300ms <!here>")
    payload = {"type": "message_action", "callback_id": "add_to_timeline", "user": {"id": ALICE},
               "channel": {"id": inc.channel}, "trigger_id": "trig-shortcut",
               "message": {"ts": said.ts, "user": "U_BOB", "text": said.text},
               "response_url": fake_slack.response_url("shortcut")}
    for _ in range(2):  # adding the same message twice keeps one entry
        status, _ = await driver.interactive(dict(payload), url=bot.url)
        assert status == 200
    await eventually(lambda: len([k for k, _ in fake_slack.response_posts if k == "shortcut"]) == 2)
    added = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "message_added"]
    assert len(added) == 1
    assert added[0].data["permalink"].endswith(f"{inc.channel}/p{said.ts.replace('.', '')}")
    assert added[0].data["author"] == "U_BOB" and added[0].actor == ALICE


async def test_step_details_open_in_a_modal(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Details")
    msg = phase_message(fake_slack, inc.channel, 0)
    await driver.select(msg, "details:0", 0, user=ALICE, url=bot.url)
    view = (await fake_slack.wait_for("views.open", 2))[-1].response["view"]
    assert "kubectl rollout history deployment/api" in str(view["blocks"])
