"""`/incident <playbook>` end to end: signed requests in, Web API calls out to the fake Slack."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import redis.asyncio as aioredis

from bot import keys
from bot.forms import DeclareForm
from bot.schedule import Due, DueKind
from bot.workflows import declare as declaring
from tests.conftest import eventually
from tests.flows import all_text, card, declare, modal_values, mrkdwn_texts, open_declare_modal, phase_message
from tests.redis_server import RedisServer


async def test_declare_opens_channel_card_and_first_phase(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Checkout p99 above 2s", service="checkout-api",
                        description="p99 from 300ms to 2.4s since 02:10")
    ch = fake_slack.channels[inc.channel]
    assert re.fullmatch(r"inc-\d{8}-quick-checkout-p99-above-2s", ch.name)
    assert not ch.is_private
    # Declarer, the on-call user and the user-group members are invited; the bot created it.
    assert {"U_DECLARER", "U_ONCALL", "U_P1", "U_P2"} <= ch.members
    await eventually(lambda: ch.topic)
    assert "P2" in ch.topic and "Checkout p99 above 2s" in ch.topic
    pinned = card(fake_slack, inc.channel)
    text = all_text(pinned)
    for expected in ("INC-", "Checkout p99 above 2s", "P2", "Open", "Assess", "<@U_DECLARER>",
                     "Quick test playbook", "checkout-api"):
        assert expected in text, expected
    first = phase_message(fake_slack, inc.channel, 0)
    first_text = all_text(first)
    assert "Assess (0–60 min)" in first_text
    assert "Verify the alert is outside normal variation" in first_text
    assert "Complete Assess" in first_text
    # Announcement in ANNOUNCE_CHANNEL links to the new channel.
    announce = await fake_slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "#incidents")
    posted = fake_slack.message(announce[0].response["channel"], announce[0].response["ts"])
    assert f"<#{inc.channel}>" in all_text(posted) and "Checkout p99 above 2s" in all_text(posted)
    # Stored in Redis.
    incident = await bot.deps.store.get(inc.incident_id)
    assert incident.channel_id == inc.channel and incident.card_ts == ch.pins[0]
    assert incident.service == "checkout-api"


async def test_modal_prefilled_from_text_and_playbook(make_bot, driver, fake_slack):
    bot = await make_bot()
    status, body, _ = await driver.command("quick  DB is on fire ", url=bot.url)
    assert status == 200 and body == ""
    view = (await fake_slack.wait_for("views.open"))[0].args["view"]
    title = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "DB is on fire"
    severity = next(b for b in view["blocks"] if b.get("block_id") == "severity")
    assert severity["element"]["initial_option"]["value"] == "P2"
    assert {b.get("block_id") for b in view["blocks"]} >= {"title", "severity", "service", "description"}


async def test_same_modal_submitted_twice_creates_one_incident(make_bot, driver, fake_slack):
    bot_a = await make_bot()
    bot_b = await make_bot()
    view = await open_declare_modal(driver, bot_a, fake_slack, "quick Double submit")
    view = {**view, "id": "V_TWICE"}
    import asyncio

    results = await asyncio.gather(
        driver.submit_view(view, modal_values("Double submit"), url=bot_a.url),
        driver.submit_view(view, modal_values("Double submit"), url=bot_b.url),
    )
    assert [r[0] for r in results] == [200, 200]
    await fake_slack.wait_for("conversations.create")
    await asyncio.sleep(0.5)
    assert len(fake_slack.calls_to("conversations.create")) == 1
    assert len(await bot_a.deps.store.open_incident_ids()) == 1


async def test_help_and_unknown_playbook_answer_privately_and_create_nothing(make_bot, driver, fake_slack):
    bot = await make_bot()
    for text in ("", "help"):
        status, body, _ = await driver.command(text, url=bot.url)
        assert status == 200
        assert "/incident quick" in body and "/incident note" in body
    status, body, _ = await driver.command("nonsense stuff", url=bot.url)
    assert status == 200
    assert "`nonsense` is not a playbook" in body and "/incident quick" in body
    assert '"response_type": "in_channel"' not in body
    assert not fake_slack.calls_to("views.open")
    assert not fake_slack.calls_to("conversations.create")


async def test_unsigned_or_stale_requests_are_refused(make_bot, driver, fake_slack):
    bot = await make_bot()
    status, _ = await driver.post("command=%2Fincident&text=help", secret="wrong", url=bot.url)
    assert status == 401
    import time

    status, _ = await driver.post("command=%2Fincident&text=help", timestamp=int(time.time()) - 600, url=bot.url)
    assert status == 401
    assert not fake_slack.calls


async def test_name_taken_gets_another_suffix(make_bot, driver, fake_slack):
    bot = await make_bot()
    first = await declare(driver, bot, fake_slack, "quick Same title")
    second = await declare(driver, bot, fake_slack, "quick Same title")
    names = [fake_slack.channels[c].name for c in (first.channel, second.channel)]
    assert names[0] != names[1] and names[1] == names[0] + "-2"


async def test_title_with_broadcast_pings_nobody(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick <!channel> <@U_VP> & friends",
                        description="<!here> look", service="<!everyone>")
    def posted() -> list[Any]:
        return fake_slack.calls_to("chat.postMessage") + fake_slack.calls_to("chat.update")

    # The card, the first phase and the announcement are posted side by side: the last may follow the pin.
    calls = await eventually(lambda: len(posted()) >= 3 and posted())
    for call in calls:
        text = "\n".join(mrkdwn_texts(call.args))
        assert "<!channel>" not in text and "<!here>" not in text and "<!everyone>" not in text
        assert "<@U_VP>" not in text
    assert "&lt;!channel&gt;" in all_text(card(fake_slack, inc.channel))


async def test_redis_down_tells_the_person_and_keeps_serving(make_bot, driver, fake_slack,
                                                             redis_server: RedisServer):
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick While redis is down")
    redis_server.stop()
    try:
        status, body = await driver.submit_view({**view, "id": "V_DOWN"}, modal_values("While redis is down"),
                                                url=bot.url)
        assert status == 200
        assert '"response_action": "errors"' in body.replace('":"', '": "') or "errors" in body
        assert "try again" in body.lower()
        assert not fake_slack.calls_to("conversations.create")
        # Commands that need Redis answer privately too.
        _, _, key = await driver.command("note hello", channel="C_ANY", url=bot.url)
        posts = await eventually(lambda: [b for k, b in fake_slack.response_posts if k == key])
        assert "unreachable" in posts[0]["text"]
        async with driver.session.get(bot.url + "/healthz") as resp:
            assert resp.status == 503
    finally:
        redis_server.start()
    # Recovered: the same bot declares once Redis is back.
    async with driver.session.get(bot.url + "/healthz") as resp:
        assert resp.status == 200
    inc = await declare(driver, bot, fake_slack, "quick After recovery")
    assert inc.channel


async def test_redis_lost_right_after_the_declare_is_stored(make_bot, driver, fake_slack, caplog,
                                                           redis_server: RedisServer):
    """The incident is stored when Redis goes away (as the channel is created): its escalations are already
    scheduled, the set-up waits for Redis and finishes, and nobody is told that nothing was changed."""
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick Redis goes away")
    fake_slack.on_next_call("conversations.create", lambda _: redis_server.stop())
    try:
        with caplog.at_level(logging.WARNING, logger="bot.workflows.declare"):
            status, _ = await driver.submit_view(view, modal_values("Redis goes away"), url=bot.url)
            assert status == 200
            await eventually(lambda: any("waits for Redis" in r.getMessage() for r in caplog.records), timeout=15)
    finally:
        redis_server.start()
    channel = fake_slack.calls_to("conversations.create")[0].response["channel"]["id"]
    incident_id = await eventually(lambda: bot.deps.store.incident_for_channel(channel), timeout=15)
    await eventually(lambda: phase_message(fake_slack, channel, 0), timeout=15)
    await eventually(lambda: fake_slack.channels[channel].pins, timeout=15)
    scheduled = await bot.deps.store.redis.zrange(keys.due(), 0, -1)
    assert Due(DueKind.ESCALATION, incident_id, 0).member in scheduled
    assert not [b for _, b in fake_slack.response_posts if "nothing was changed" in b.get("text", "")]


async def test_declare_stored_but_answered_not_saved_is_set_up_when_submitted_again(make_bot, driver, fake_slack):
    """A submit whose incident was stored while the person was told "not saved" (a failover, a lost answer):
    submitting the same modal again sets that incident up instead of leaving it without a channel."""
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick Stored unanswered")
    form, _ = DeclareForm.read({"title": "Stored unanswered", "severity": "P2"})
    assert form is not None
    created, incident_id = await declaring.create(bot.deps, bot.deps.book("quick"), form, "U_DECLARER", view["id"])
    assert created and not fake_slack.calls_to("conversations.create")
    status, _ = await driver.submit_view(view, modal_values("Stored unanswered"), url=bot.url)
    assert status == 200
    channel = await eventually(lambda: _channel_of(bot, incident_id), timeout=10)
    await eventually(lambda: phase_message(fake_slack, channel, 0), timeout=10)
    assert len(fake_slack.calls_to("conversations.create")) == 1


async def _channel_of(bot, incident_id: str) -> str:
    return (await bot.deps.store.get(incident_id)).channel_id


async def test_modal_submitted_twice_at_once_makes_one_channel(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick Double submit")
    answers = await asyncio.gather(*(driver.submit_view(view, modal_values("Double submit"), url=bot.url)
                                     for _ in range(2)))
    assert [status for status, _ in answers] == [200, 200]
    created = await fake_slack.wait_for("conversations.create")
    await eventually(lambda: phase_message(fake_slack, created[0].response["channel"]["id"], 0), timeout=10)
    assert len(fake_slack.calls_to("conversations.create")) == 1
    assert len(await bot.deps.store.open_incident_ids()) == 1


async def test_slack_failure_mid_declare_is_reported_and_recorded(make_bot, driver, fake_slack):
    bot = await make_bot()
    fake_slack.fail("pins.add", "channel_not_found")
    view = await open_declare_modal(driver, bot, fake_slack, "quick Pin fails")
    await driver.submit_view(view, modal_values("Pin fails"), url=bot.url)
    post = await eventually(lambda: [b for _, b in fake_slack.response_posts if "pin" in b.get("text", "")])
    assert "channel_not_found" in post[0]["text"]
    channel = fake_slack.calls_to("conversations.create")[0]
    ch = fake_slack.channel_by_name(channel.args["name"])
    incident_id = await bot.deps.store.incident_for_channel(ch.id)
    events = await bot.deps.store.timeline(incident_id)
    failed = [e for e in events if e.type == "declare_failed"]
    assert failed and failed[0].data["stage"] == "post and pin the incident card"
    # The rest of the incident still works: first phase posted.
    assert phase_message(fake_slack, ch.id, 0)


async def test_channel_creation_failure_marks_incident_failed(make_bot, driver, fake_slack):
    bot = await make_bot()
    fake_slack.fail("conversations.create", "restricted_action")
    view = await open_declare_modal(driver, bot, fake_slack, "quick Cannot create")
    await driver.submit_view(view, modal_values("Cannot create"), url=bot.url)
    post = await eventually(lambda: [b for _, b in fake_slack.response_posts
                                     if "restricted_action" in b.get("text", "")])
    assert "could not be declared" in post[0]["text"]
    assert await bot.deps.store.open_incident_ids() == set()


async def test_rate_limited_calls_are_retried(make_bot, driver, fake_slack):
    bot = await make_bot()
    fake_slack.rate_limit("conversations.create", retry_after=1)
    inc = await declare(driver, bot, fake_slack, "quick Rate limited")
    assert len(fake_slack.calls_to("conversations.create")) == 2
    assert inc.channel


async def test_redis_restart_keeps_incident(make_bot, driver, fake_slack, redis_server: RedisServer):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "quick Survives redis restart")
    redis_server.restart()
    client = aioredis.Redis.from_url(redis_server.url)
    await client.aclose()
    incident = await eventually(lambda: bot.deps.store.get(inc.incident_id))
    assert incident.title == "Survives redis restart"


async def test_incident_left_without_its_channel_is_set_up_by_the_sweep(make_bot, driver, fake_slack):
    """The replica that stored a declare died before creating the channel: a minute later any replica's sweep
    sets it up, so its escalations have somewhere to go."""
    bot = await make_bot()
    form, _ = DeclareForm.read({"title": "Left behind", "severity": "P2"})
    assert form is not None
    _, incident_id = await declaring.create(bot.deps, bot.deps.book("quick"), form, "U_DECLARER", "V_LEFT")
    store = bot.deps.store
    assert await store.left_without_channel(0) == [incident_id]
    # Stored "two minutes ago" (the clock the sweep compares with is Redis's own).
    await store.redis.zadd(keys.without_channel(), {incident_id: await store._now_ms() - 120_000}, xx=True)
    channel = await eventually(lambda: _channel_of(bot, incident_id), timeout=10)
    await eventually(lambda: phase_message(fake_slack, channel, 0), timeout=10)
    assert len(fake_slack.calls_to("conversations.create")) == 1
    assert await store.left_without_channel(0) == []
