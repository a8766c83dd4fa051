"""Response targets: reminded once when they pass unmet, never when met, shown on the card; the RCA window."""

from __future__ import annotations

from typing import Any

from bot import keys
from bot.incident import Event
from bot.schedule import Due, DueKind
from bot.timeline_view import describe
from tests.conftest import eventually
from tests.driver import find_element
from tests.flows import all_text, card, declare, phase_message
from tests.test_escalation import ping_ids, pings
from tests.test_status import rca_file, resolve

ACK, RESOLVE = 0, 1


def member(incident_id: str, target: int) -> str:
    return Due(DueKind.TARGET, incident_id, target).member


def target_reminders(fake: Any, channel: str) -> list[Any]:
    return [m for m in pings(fake, channel) if m.metadata["event_payload"]["id"].startswith("target|")]


async def scheduled(bot: Any, incident_id: str, target: int) -> bool:
    return await bot.deps.store.redis.zscore(keys.due(), member(incident_id, target)) is not None


async def test_unmet_targets_remind_the_channel_and_roles_once_each_across_replicas(make_bot, driver, fake_slack):
    bot_a = await make_bot()
    await make_bot()  # a second replica racing for the same reminders
    inc = await declare(driver, bot_a, fake_slack, "targets Nobody answers")
    incident = await bot_a.deps.store.get(inc.incident_id)
    declared_s = incident.declared_at // 1000
    shown = all_text(card(fake_slack, inc.channel))
    # Deadlines as Slack dates, drawn in each reader's time zone: the card need not change as time passes.
    assert f"Acknowledge by <!date^{declared_s + 2}^" in shown and "(the 2 seconds target)" in shown
    assert f"Resolve by <!date^{declared_s + 3}^" in shown and "(the 3 seconds target)" in shown

    sent = await eventually(lambda: len(target_reminders(fake_slack, inc.channel)) == 2 and
                            target_reminders(fake_slack, inc.channel), timeout=6)
    # Sent and finished: nothing of either target is left to claim, so nothing can post it again.
    await eventually(lambda: _both_finished(bot_a, inc.incident_id))
    assert sorted(m.metadata["event_payload"]["id"] for m in sent) == [member(inc.incident_id, ACK),
                                                                       member(inc.incident_id, RESOLVE)]
    ack, late = (all_text(m) for m in sorted(sent, key=lambda m: m.metadata["event_payload"]["id"]))
    for text in (ack, late):
        assert "<@U_IM>" in text and "*unmapped-manager* (no roster entry)" in text and "Nobody answers" in text
    assert "not been acknowledged within its 2 seconds target" in ack
    assert "still open past its 3 seconds resolution target" in late
    await eventually(lambda: all_text(card(fake_slack, inc.channel)).count("⏰ *missed*") == 2)
    missed = [e for e in await bot_a.deps.store.timeline(inc.incident_id) if e.type == "target_missed"]
    assert [e.data["target"] for e in missed] == ["acknowledge", "resolve"]
    assert len(target_reminders(fake_slack, inc.channel)) == 2


async def _both_finished(bot: Any, incident_id: str) -> bool:
    return not await scheduled(bot, incident_id, ACK) and not await scheduled(bot, incident_id, RESOLVE)


async def test_first_step_done_meets_the_acknowledge_target(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "targets Picked up at once")
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:0", user="U_ALICE", url=bot.url)
    await eventually(lambda: "✅ Acknowledged <!date^" in all_text(card(fake_slack, inc.channel)))
    shown = all_text(card(fake_slack, inc.channel))
    assert "by <@U_ALICE>, within the 2 seconds target" in shown and "Acknowledge by" not in shown
    assert "Resolve by <!date^" in shown
    # A replica starts once the acknowledge target is due: it drops it, and reminds only of the resolve target.
    await eventually(lambda: _due(bot, member(inc.incident_id, ACK)), timeout=4)
    await make_bot()
    reminder = (await eventually(lambda: target_reminders(fake_slack, inc.channel), timeout=4))[0]
    assert reminder.metadata["event_payload"]["id"] == member(inc.incident_id, RESOLVE)
    assert not await scheduled(bot, inc.incident_id, ACK)
    assert member(inc.incident_id, ACK) not in ping_ids(fake_slack, inc.channel)
    assert [e.data["target"] for e in await bot.deps.store.timeline(inc.incident_id)
            if e.type == "target_missed"] == ["resolve"]


async def _due(bot: Any, wanted: str) -> bool:
    return wanted in await bot.deps.store.due_members()


async def test_acknowledging_an_escalation_meets_the_acknowledge_target(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "targets Lead answers the page")
    ping = (await eventually(lambda: [m for m in pings(fake_slack, inc.channel)
                                      if m.metadata["event_payload"]["id"].startswith("esc|")], timeout=4))[0]
    await driver.click(ping, find_element(ping.blocks, "ack_escalation:0")["action_id"], user="U_LEAD", url=bot.url)
    await eventually(lambda: "✅ Acknowledged <!date^" in all_text(card(fake_slack, inc.channel)))
    assert "by <@U_LEAD>" in all_text(card(fake_slack, inc.channel))
    reminder = (await eventually(lambda: target_reminders(fake_slack, inc.channel), timeout=5))[0]
    assert reminder.metadata["event_payload"]["id"] == member(inc.incident_id, RESOLVE)
    await eventually(lambda: _both_finished(bot, inc.incident_id))
    assert len(target_reminders(fake_slack, inc.channel)) == 1


async def test_a_response_landing_after_the_claim_still_stops_the_reminder(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "targets Answered mid-claim")
    store, due = bot.deps.store, Due(DueKind.TARGET, inc.incident_id, ACK)
    await eventually(lambda: _due(bot, due.member), timeout=4)
    claim = await store.claim(due, "replica", 30_000)
    assert claim is not None
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:1", user="U_BOB", url=bot.url)
    # Acknowledged after the deadline: the card says so, with how late.
    await eventually(lambda: "⚠️ Acknowledged <!date^" in all_text(card(fake_slack, inc.channel)))
    assert "after the 2 seconds target" in all_text(card(fake_slack, inc.channel))
    event = Event(type="target_missed", actor="bot", at=claim.now_ms, id=f"esc:{due.member}")
    assert await store.confirm(due, claim, event, fields={"target_at:0": str(claim.now_ms)}) is None
    assert not await scheduled(bot, inc.incident_id, ACK)
    assert "target_missed" not in [e.type for e in await store.timeline(inc.incident_id)]


async def test_resolving_in_time_unschedules_the_targets_and_the_rca_uses_the_review_window(make_bot, driver,
                                                                                              fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "targets Fixed fast")
    await resolve(driver, bot, fake_slack, inc.channel)
    assert not await scheduled(bot, inc.incident_id, ACK) and not await scheduled(bot, inc.incident_id, RESOLVE)
    incident = await bot.deps.store.get(inc.incident_id)
    week_ms = 7 * 86_400_000
    assert incident.rca_due_at == incident.resolved_at + week_ms  # review_within, not RCA_DUE_AFTER
    # Resolving completes the last phase, which is a response too.
    await eventually(lambda: "within the 3 seconds target" in all_text(card(fake_slack, inc.channel)))
    shown = all_text(card(fake_slack, inc.channel))
    assert "✅ Acknowledged" in shown and "✅ Resolved" in shown
    _, content, _ = rca_file(fake_slack)
    assert "within 1 week of the resolution" in content
    review = next(m for m in fake_slack.channels[inc.channel].messages if "Mark RCA reviewed" in all_text(m))
    assert "1 week after the resolve" in all_text(review)


def test_a_missed_target_reads_plainly_on_the_timeline():
    event = Event(type="target_missed", actor="bot", at=0,
                  data={"target": "resolve", "after": 8 * 3600, "notify": ["incident-manager", "engineering-manager"]})
    assert describe(event, None) == \
        "The resolve target (8 hours) passed unmet; reminded incident-manager, engineering-manager"
