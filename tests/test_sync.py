"""Slack as a projection of the stored incident: a failed update is repaired by the next change or by
the sweep, an unchanged part costs no Slack call, and a part Slack will never take is given up."""

from __future__ import annotations

import logging
import time

from bot import keys, parts
from bot.incident import Event
from bot.render import all_parts
from bot.sync import sweep, sync
from tests.conftest import eventually
from tests.flows import all_text, card, declare, phase_message, phase_messages

ALICE = "U_ALICE"


def step_action(phase: int, step: int) -> str:
    return f"step:{phase}:{step}"


async def dirty(bot, incident_id: str, part: str) -> bool:
    return await bot.deps.store.redis.zscore(keys.dirty(), f"{incident_id}|{part}") is not None


async def not_dirty(bot, incident_id: str, part: str) -> bool:
    return not await dirty(bot, incident_id, part)


async def step_stored(bot, incident_id: str, step: int) -> bool:
    return (await bot.deps.store.get(incident_id)).step(0, step) is not None


async def click_with_update_failing(driver, bot, fake_slack, inc, step: int) -> None:
    """Click Done while Slack answers 500 to every attempt at chat.update (the client retries twice)."""
    before = len(fake_slack.calls_to("chat.update"))
    fake_slack.fail_status("chat.update", 500, times=3)
    status, _ = await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, step), user=ALICE,
                                   url=bot.url)
    assert status == 200
    await fake_slack.wait_for("chat.update", before + 3)
    await eventually(lambda: step_stored(bot, inc.incident_id, step))
    # The failed draw has let go of the part (part_failed.lua counts it): a change arriving while it still held
    # the lock would leave the drawing to it, and a failing holder draws nothing more (the sweep does).
    member = f"{inc.incident_id}|phase:0"
    await eventually(lambda: bot.deps.store.redis.hget(keys.dirty_attempts(), member))


async def test_failed_update_is_repaired_by_the_next_change(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)  # no sweep: only the next change can repair it
    inc = await declare(driver, bot, fake_slack, "quick Update fails once")
    await click_with_update_failing(driver, bot, fake_slack, inc, 0)
    # Stored, not shown, and marked for repair; the person is not told their change was lost.
    await eventually(lambda: dirty(bot, inc.incident_id, "phase:0"))
    assert "✅" not in all_text(phase_message(fake_slack, inc.channel, 0))
    assert not [b for k, b in fake_slack.response_posts if k.startswith("click-")]
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 1), user=ALICE, url=bot.url)
    await eventually(lambda: all_text(phase_message(fake_slack, inc.channel, 0)).count("✅") == 2)
    assert not await dirty(bot, inc.incident_id, "phase:0")


async def test_failed_update_is_repaired_by_the_sweep(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Update fails then sweep")
    await click_with_update_failing(driver, bot, fake_slack, inc, 0)
    # Nobody touches the incident again: the sweep draws the message within seconds.
    await eventually(lambda: "✅" in all_text(phase_message(fake_slack, inc.channel, 0)), timeout=10)
    await eventually(lambda: not_dirty(bot, inc.incident_id, "phase:0"))


async def test_failed_topic_is_repaired_by_the_sweep(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Topic fails")
    fake_slack.fail_status("conversations.setTopic", 503, times=3)
    await driver.command("sev P1", user=ALICE, channel=inc.channel, url=bot.url)
    await eventually(lambda: "*P1*" in all_text(fake_slack.channels[inc.channel].messages[-1]))
    await eventually(lambda: fake_slack.channels[inc.channel].topic.startswith("P1"), timeout=10)


async def test_unchanged_parts_cost_no_slack_call(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick Nothing to redraw")
    # The declare's set-up may still be drawing (the topic is set beside the posts): let it finish first.
    async def drawn() -> bool:
        topic_set = bool(fake_slack.calls_to("conversations.setTopic"))
        return topic_set and await bot.deps.store.redis.zcard(keys.dirty()) == 0

    await eventually(drawn)
    incident = await bot.deps.store.get(inc.incident_id)
    counted = ("chat.update", "conversations.setTopic")
    before = {m: len(fake_slack.calls_to(m)) for m in counted}
    # Posting a message records what it shows, so a redraw of everything right after changes nothing.
    assert await sync(bot.deps, inc.incident_id, all_parts(incident, bot.deps.playbooks["quick"]))
    assert {m: len(fake_slack.calls_to(m)) for m in counted} == before
    assert await bot.deps.store.redis.zcard(keys.dirty()) == 0


async def test_part_slack_will_never_take_is_given_up(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick Message deleted")
    before = len(fake_slack.calls_to("chat.update"))
    fake_slack.fail("chat.update", "message_not_found")
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
    await fake_slack.wait_for("chat.update", before + 1)
    await eventually(lambda: step_stored(bot, inc.incident_id, 0))
    await eventually(lambda: not_dirty(bot, inc.incident_id, "phase:0"))
    assert len(fake_slack.calls_to("chat.update")) == before + 1


async def test_a_change_whose_replica_died_before_drawing_it_is_drawn_by_the_sweep(make_bot, driver, fake_slack):
    """A change is stored with the parts its caller draws next marked dirty, in the same write: a replica that
    dies right after storing it (here: one that never draws) leaves them to another replica's sweep."""
    dying = await make_bot(run_scheduler=False)
    inc = await declare(driver, dying, fake_slack, "wide Dies before drawing")
    await eventually(lambda: not_dirty(dying, inc.incident_id, "card"))  # the declare's drawing is over
    event = Event(type="commander_changed", actor=ALICE, at=dying.deps.clock(), data={"from": "", "to": "U_BOB"})
    changed, _ = await dying.deps.store.set_fields(inc.incident_id, {"commander": "U_BOB"}, event,
                                                   require_open=True, redraw=[parts.CARD])
    assert changed and "<@U_BOB>" not in all_text(card(fake_slack, inc.channel))
    await make_bot()  # another replica, whose scheduler sweeps
    await eventually(lambda: "*Commander*\n<@U_BOB>" in all_text(card(fake_slack, inc.channel)), timeout=15)
    await eventually(lambda: not_dirty(dying, inc.incident_id, "card"))


async def test_next_checklist_of_a_replica_that_died_after_completing_a_phase_is_posted_once(
        make_bot, driver, fake_slack):
    """The phase is closed in Redis, and the replica dies before posting the next checklist: the sweep posts it
    once the post it had marked as under way is overdue (the mark goes with the change), and only once."""
    dying = await make_bot(run_scheduler=False)
    inc = await declare(driver, dying, fake_slack, "wide Dies after completing")
    book = dying.deps.book("wide")
    event = Event(type="phase_completed", actor=ALICE, at=dying.deps.clock(), data={"phase": 0})
    # As checklist.complete_phase does, with a post that may take 1 s instead of POSTING_MS.
    closed = await dying.deps.store.complete_phase(inc.incident_id, 0, len(book.phases[0].steps), event,
                                                   redraw={parts.phase(0)} | parts.HEADLINE,
                                                   post_next=parts.phase(1), posting_ms=1000)
    assert closed is not None and closed.phase == 1 and len(phase_messages(fake_slack, inc.channel)) == 1
    await make_bot()
    nxt = await eventually(lambda: [m for m in phase_messages(fake_slack, inc.channel) if "Phase 2 of" in all_text(m)],
                           timeout=15)
    await eventually(lambda: not_dirty(dying, inc.incident_id, "phase:1"), timeout=15)
    assert len(nxt) == 1 and len(phase_messages(fake_slack, inc.channel)) == 2
    assert (await dying.deps.store.get(inc.incident_id)).phase_ts.get(1) == nxt[0].ts


async def test_a_dirty_part_of_an_incident_that_is_gone_is_forgotten_by_the_sweep(make_bot):
    bot = await make_bot(run_scheduler=False)
    await bot.deps.store.redis.zadd(keys.dirty(), {"404|card": 0})
    assert await sweep(bot.deps) == 1
    assert await bot.deps.store.redis.zscore(keys.dirty(), "404|card") is None, "else looked at every sweep"


async def test_next_checklist_whose_post_failed_is_posted_by_the_sweep(make_bot, driver, fake_slack):
    # Declared "an hour from now": no escalation falls due during the test to take the injected faults.
    bot = await make_bot(clock=lambda: int(time.time() * 1000) + 3_600_000)
    inc = await declare(driver, bot, fake_slack, "quick Post fails")
    fake_slack.fail_status("chat.postMessage", 500, times=4)  # the post and all of the client's retries
    msg = phase_message(fake_slack, inc.channel, 0)
    await driver.click(msg, "complete_phase:0", user=ALICE, url=bot.url)
    # Nobody can complete Assess again; the bot posts the Diagnose checklist by itself, once.
    nxt = await eventually(lambda: phase_message(fake_slack, inc.channel, 1), timeout=15)
    assert "Phase 2 of 4" in all_text(nxt)
    await eventually(lambda: phase_ts_kept(bot, inc.incident_id, 1, nxt.ts))
    await driver.click(nxt, step_action(1, 0), user=ALICE, url=bot.url)
    await eventually(lambda: "✅" in all_text(phase_message(fake_slack, inc.channel, 1)))
    assert len([m for m in fake_slack.channels[inc.channel].messages if "Phase 2 of 4" in all_text(m)]) == 1


async def phase_ts_kept(bot, incident_id: str, phase: int, ts: str) -> bool:
    return (await bot.deps.store.get(incident_id)).phase_ts.get(phase) == ts


async def test_post_slack_took_but_answered_500_is_not_posted_twice(make_bot, driver, fake_slack):
    """Slack did the post and then answered 500 (or the connection dropped): the client must not repeat it
    blindly; the sweep finds the message in the channel's history and keeps it."""
    bot = await make_bot(clock=lambda: int(time.time() * 1000) + 3_600_000)
    inc = await declare(driver, bot, fake_slack, "quick Post answered 500")

    def next_checklist(call) -> bool:
        return call.args.get("channel") == inc.channel and "Phase 2 of 4" in str(call.args.get("blocks"))

    def arm(call) -> None:  # only the next checklist's post fails (the declare's own posts may still be going)
        if next_checklist(call):
            fake_slack.fail_status("chat.postMessage", 500, applied=True)
        else:
            fake_slack.on_next_call("chat.postMessage", arm)

    fake_slack.on_next_call("chat.postMessage", arm)
    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user=ALICE, url=bot.url)
    nxt = await eventually(lambda: phase_message(fake_slack, inc.channel, 1), timeout=15)
    await eventually(lambda: phase_ts_kept(bot, inc.incident_id, 1, nxt.ts), timeout=15)
    await eventually(lambda: not_dirty(bot, inc.incident_id, "phase:1"), timeout=15)
    assert len([m for m in fake_slack.channels[inc.channel].messages if "Phase 2 of 4" in all_text(m)]) == 1
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if next_checklist(c)]
    assert [c.status for c in posts] == [500], "the post was not repeated"


async def test_redis_restarted_mid_render_the_message_converges(make_bot, driver, fake_slack, redis_server, caplog):
    """Redis goes away while a checklist is being drawn and comes back: a later change and the sweep still bring
    the message to the stored state."""
    bot = await make_bot(clock=lambda: int(time.time() * 1000) + 3_600_000)
    inc = await declare(driver, bot, fake_slack, "quick Redis restarts mid-render")
    fake_slack.on_next_call("chat.update", lambda _: redis_server.stop())
    try:
        with caplog.at_level(logging.WARNING, logger="bot.sync"):
            await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 0), user=ALICE, url=bot.url)
            # The render gave up (letting go of its lock may fail too, or land once Redis is back).
            await eventually(lambda: any("drawing phase:0 failed: Redis unreachable" in r.getMessage()
                                         for r in caplog.records), timeout=15)
    finally:
        redis_server.start()
    await eventually(lambda: step_stored(bot, inc.incident_id, 0), timeout=10)
    await driver.click(phase_message(fake_slack, inc.channel, 0), step_action(0, 1), user=ALICE, url=bot.url)
    await eventually(lambda: step_stored(bot, inc.incident_id, 1), timeout=10)
    await eventually(lambda: all_text(phase_message(fake_slack, inc.channel, 0)).count("✅") == 2, timeout=25)
    await eventually(lambda: not_dirty(bot, inc.incident_id, "phase:0"), timeout=10)
