"""PagerDuty both ways: escalations page people through the Events API v2 (once per role and level, across
replicas and restarts, retried while PagerDuty fails), acknowledgements and resolution follow them there, and
PagerDuty's signed webhooks bring acknowledgements back into Slack."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest

from bot import keys
from bot.incident import Incident
from bot.pagerduty import trigger_event
from tests.conftest import ROSTER, eventually
from tests.driver import find_element
from tests.fake_pagerduty import FakePagerDuty, signature, webhook
from tests.flows import all_text, declare
from tests.test_escalation import pings, resolve_via_modal
from tests.test_service import metric

KEY_LEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
KEY_IM = "0f9e8d7c6b5a49382716f5e4d3c2b1a0"
WEBHOOK_SECRET = "pd-webhook-test-secret"
PD_ROSTER: dict[str, Any] = {**ROSTER, "perf-lead": {"slack": "U_LEAD", "pagerduty": KEY_LEAD},
                             "incident-manager": {"slack": "U_IM", "pagerduty": KEY_IM}}


@pytest.fixture
def pd_bot(make_bot, fake_pagerduty):
    async def start(**settings: Any):
        settings.setdefault("roster", PD_ROSTER)
        return await make_bot(pagerduty_events_url=fake_pagerduty.url, pagerduty_webhook_secret=WEBHOOK_SECRET,
                              **settings)

    return start


async def deliver(driver, bot, body: bytes, *, header: str | None = None) -> tuple[int, dict[str, Any]]:
    """POST a webhook delivery as PagerDuty does, signed with the subscription's secret unless `header`."""
    headers = {"Content-Type": "application/json",
               "X-PagerDuty-Signature": signature(WEBHOOK_SECRET, body) if header is None else header}
    async with driver.session.post(bot.url + "/pagerduty/webhook", data=body, headers=headers) as resp:
        return resp.status, await resp.json()


def said(fake_slack, channel: str, needle: str) -> list[str]:
    return [m.text for m in fake_slack.channels[channel].messages if needle in m.text]


def queue_empty(bot):
    async def check() -> bool:
        return await bot.deps.store.redis.zcard(keys.pages()) == 0
    return check


async def first_trigger(fake: FakePagerDuty) -> Any:
    return (await eventually(lambda: fake.accepted("trigger"), timeout=6))[0]


async def scrape(driver, bot) -> str:
    async with driver.session.get(bot.url + "/metrics") as resp:
        return await resp.text()


async def test_an_escalation_pages_its_roles_with_the_incident_in_the_event(pd_bot, driver, fake_slack,
                                                                            fake_pagerduty):
    bot = await pd_bot()
    before = await scrape(driver, bot)
    inc = await declare(driver, bot, fake_slack, "race Checkout p99 at 4 s", service="checkout", severity="P3")
    body = (await first_trigger(fake_pagerduty)).body
    assert body["routing_key"] == KEY_LEAD
    assert body["dedup_key"].startswith(f"incident-bot/INC-{inc.incident_id}/")
    assert body["dedup_key"].endswith("/perf-lead")
    payload = body["payload"]
    for part in (f"INC-{inc.incident_id}", "Checkout p99 at 4 s", "Page the Performance Engineering Lead"):
        assert part in payload["summary"]
    assert payload["severity"] == "warning" and payload["source"] == "checkout"
    details = payload["custom_details"]
    assert details["playbook"] == "race" and details["phase"] == "Assess"
    assert details["channel"] == "#" + fake_slack.channels[inc.channel].name
    assert body["links"][0]["href"].endswith(f"channel={inc.channel}")
    ping = (await eventually(lambda: pings(fake_slack, inc.channel)))[0]
    assert "Paged through PagerDuty: perf-lead" in all_text(ping)
    events = await eventually(lambda: _events(bot, inc.incident_id, "pagerduty_sent"))
    assert events[0].data == {"action": "trigger", "role": "perf-lead"}
    after = await scrape(driver, bot)
    grew = (metric(after, "incidentbot_pagerduty_events_total", action="trigger", outcome="ok")
            - metric(before, "incidentbot_pagerduty_events_total", action="trigger", outcome="ok"))
    assert grew == 1


async def _events(bot, incident_id: str, kind: str) -> list[Any]:
    return [e for e in await bot.deps.store.timeline(incident_id) if e.type == kind]


@pytest.mark.parametrize(("severity", "expected"), [("P0", "critical"), ("P1", "critical"), ("P2", "error"),
                                                    ("P3", "warning"), ("P4", "info")])
def test_severity_maps_and_the_summary_fits(severity, expected):
    incident = Incident(id="7", playbook="perf", title="t" * 120, severity=severity, declared_by="U1",
                        declared_at=1, channel_id="C1", channel_name="inc-x")
    event = trigger_event(incident, None, "incident-bot/INC-7/1/perf-lead", "perf-lead", "m" * 2000)
    assert event["payload"]["severity"] == expected
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["custom_details"]["channel"] == "#inc-x"
    private = trigger_event(incident.model_copy(update={"private": True}), None, "k", "perf-lead", "Page the lead")
    assert private["payload"]["summary"] == f"INC-7 [{severity}] private incident: Page the lead"
    assert "t" * 120 not in json.dumps(private)


async def test_one_trigger_per_role_and_level_across_two_replicas_and_a_restart(pd_bot, driver, fake_slack,
                                                                                fake_pagerduty):
    bot_a = await pd_bot()
    await pd_bot()  # a second replica racing for the same items
    inc = await declare(driver, bot_a, fake_slack, "fast Two replicas")
    await first_trigger(fake_pagerduty)
    await bot_a.stop()  # one replica goes away and another starts, mid-escalation
    bot_c = await pd_bot()
    await eventually(lambda: len(pings(fake_slack, inc.channel)) >= 4, timeout=8)  # three levels, one phase
    await eventually(queue_empty(bot_c))
    triggers = [r for r in fake_pagerduty.requests if r.action == "trigger"]
    assert all(r.accepted for r in triggers)
    by_key = Counter(r.dedup_key for r in triggers)
    assert sorted(by_key.values()) == [1, 1], by_key  # perf-lead at level 1, incident-manager at level 2
    manager = next(r for r in triggers if r.body["routing_key"] == KEY_IM)
    assert manager.body["payload"]["severity"] == "critical"  # level 2 raised the incident to P1
    assert "Activate the Major Incident protocol" in manager.body["payload"]["summary"]


async def test_a_page_pagerduty_failed_is_still_sent_after_a_restart(pd_bot, driver, fake_slack, fake_pagerduty):
    fake_pagerduty.fail_next(503)
    bot_a = await pd_bot(pagerduty_retry_seconds=1.0)
    inc = await declare(driver, bot_a, fake_slack, "race Restarted")
    await eventually(lambda: fake_pagerduty.requests, timeout=5)
    await bot_a.stop()  # every replica is down; the retry is in Redis, not in anyone's memory
    bot_b = await pd_bot(run_scheduler=False)
    member = f"page|{inc.incident_id}|trigger|perf-lead"
    store = bot_b.deps.store
    assert await store.redis.zscore(keys.pages(), member) is not None
    assert await store.redis.hget(keys.job(member), "attempts") == "1"
    await pd_bot()
    await first_trigger(fake_pagerduty)
    await eventually(queue_empty(bot_b))
    assert [r.status for r in fake_pagerduty.requests] == [503, 202]
    assert len({r.dedup_key for r in fake_pagerduty.requests}) == 1


async def test_acknowledging_in_slack_acknowledges_the_page(pd_bot, driver, fake_slack, fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "race Acknowledged in Slack")
    ping = (await eventually(lambda: pings(fake_slack, inc.channel), timeout=5))[0]
    trigger = await first_trigger(fake_pagerduty)
    await driver.click(ping, "ack_escalation:0", user="U_LEAD", url=bot.url)
    ack = (await eventually(lambda: fake_pagerduty.accepted("acknowledge")))[0]
    assert ack.body == {"routing_key": KEY_LEAD, "event_action": "acknowledge", "dedup_key": trigger.dedup_key}
    assert fake_pagerduty.alerts[trigger.dedup_key] == "acknowledged"
    # PagerDuty tells its webhook subscriptions, the bot's included: that is no news in the channel.
    status, answer = await deliver(driver, bot, webhook("incident.acknowledged", trigger.dedup_key,
                                                        agent="Incident Bot integration"))
    assert status == 200 and answer["outcome"] == "ignored"
    await eventually(queue_empty(bot))
    assert not said(fake_slack, inc.channel, "in PagerDuty")
    assert [r.action for r in fake_pagerduty.requests] == ["trigger", "acknowledge"]


async def test_resolving_resolves_every_page_once(pd_bot, driver, fake_slack, fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "fast Resolved with pages open")
    await eventually(lambda: len(fake_pagerduty.accepted("trigger")) == 2, timeout=6)
    view = await resolve_via_modal(driver, bot, fake_slack, inc.channel)
    await driver.submit_view(view, {"cause": "c", "resolution": "r"}, url=bot.url)
    await eventually(lambda: len(fake_pagerduty.accepted("resolve")) == 2, timeout=5)
    await eventually(queue_empty(bot))
    actions = [r.action for r in fake_pagerduty.requests]
    assert actions.count("trigger") == 2 and actions.count("resolve") == 2
    assert "trigger" not in actions[actions.index("resolve"):]
    triggered = {r.dedup_key for r in fake_pagerduty.requests if r.action == "trigger"}
    assert {r.dedup_key for r in fake_pagerduty.requests if r.action == "resolve"} == triggered
    assert all(fake_pagerduty.alerts[key] == "resolved" for key in triggered)


async def test_server_errors_and_rate_limits_are_retried(pd_bot, driver, fake_slack, fake_pagerduty):
    fake_pagerduty.fail_next(500)
    fake_pagerduty.fail_next(429)
    bot = await pd_bot(pagerduty_retry_seconds=0.1)
    inc = await declare(driver, bot, fake_slack, "race Flaky pager")
    await first_trigger(fake_pagerduty)
    await eventually(queue_empty(bot))
    assert [r.status for r in fake_pagerduty.requests] == [500, 429, 202]
    assert len({json.dumps(r.body, sort_keys=True) for r in fake_pagerduty.requests}) == 1  # the very same event
    assert not said(fake_slack, inc.channel, "failed")
    assert len(await _events(bot, inc.incident_id, "pagerduty_sent")) == 1


async def test_a_refused_event_is_noted_once_and_never_shows_the_key(pd_bot, driver, fake_slack, fake_pagerduty,
                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    fake_pagerduty.fail_next(400)  # its errors quote the routing key
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "race Refused")
    notes = await eventually(lambda: said(fake_slack, inc.channel, "paging perf-lead failed"), timeout=5)
    assert "Event object is invalid" in notes[0] and "(400)" in notes[0]
    await eventually(queue_empty(bot))  # nothing left to retry
    assert len(fake_pagerduty.requests) == 1 and len(said(fake_slack, inc.channel, "failed")) == 1
    assert len(await _events(bot, inc.incident_id, "pagerduty_failed")) == 1
    logged = [r for r in caplog.records if r.name.startswith("bot") and "Event object is invalid" in r.getMessage()]
    assert len(logged) == 1
    assert KEY_LEAD not in caplog.text
    assert not [c for c in fake_slack.calls if KEY_LEAD in json.dumps(c.args)]
    assert KEY_LEAD not in json.dumps([e.data for e in await bot.deps.store.timeline(inc.incident_id)])


async def test_after_the_last_attempt_the_page_is_given_up_with_a_note(pd_bot, driver, fake_slack, fake_pagerduty):
    fake_pagerduty.fail_next(500, times=3)
    bot = await pd_bot(pagerduty_retry_seconds=0.05, pagerduty_max_attempts=3)
    inc = await declare(driver, bot, fake_slack, "race Pager down")
    notes = await eventually(lambda: said(fake_slack, inc.channel, "paging perf-lead failed"), timeout=5)
    assert "PagerDuty answered 500; gave up after 3 attempts" in notes[0]
    await eventually(queue_empty(bot))
    assert [r.status for r in fake_pagerduty.requests] == [500, 500, 500]


async def test_page_command_pages_a_role_now(pd_bot, driver, fake_slack, fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "wide Database on fire")
    await driver.command("page perf-lead  Need a DBA <!channel>", user="U_ALICE", channel=inc.channel, url=bot.url)
    body = (await first_trigger(fake_pagerduty)).body
    assert body["routing_key"] == KEY_LEAD and "Database on fire: Need a DBA <!channel>" in body["payload"]["summary"]
    assert body["payload"]["severity"] == "error"  # P2
    echo = await eventually(lambda: said(fake_slack, inc.channel, "through PagerDuty"))
    assert echo == ["📟 <@U_ALICE> paged *perf-lead* through PagerDuty: Need a DBA &lt;!channel&gt;"]
    assert (await _events(bot, inc.incident_id, "page_requested"))[0].actor == "U_ALICE"
    for text, answer in [("page", "Name the role"), ("page nobody", "`nobody` is not a role in ROSTER"),
                         ("page vp-engineering", "`vp-engineering` has no PagerDuty routing key")]:
        _, _, key = await driver.command(text, channel=inc.channel, url=bot.url)
        reply = (await fake_slack.wait_for_response(key))[0]["text"]
        assert answer in reply and "`incident-manager`, `perf-lead`" in reply
    assert len(fake_pagerduty.requests) == 1


async def test_acknowledged_in_pagerduty_shows_in_slack_once(pd_bot, driver, fake_slack, fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "race Acknowledged in PagerDuty")
    ping = (await eventually(lambda: pings(fake_slack, inc.channel), timeout=5))[0]
    as_sent = type(ping)(**{**ping.__dict__})  # the fake updates `ping` in place
    trigger = await first_trigger(fake_pagerduty)
    body = webhook("incident.acknowledged", trigger.dedup_key, agent="Dana Scully <!here>")
    for expected in ("noted", "duplicate"):  # PagerDuty may deliver the same event twice
        status, answer = await deliver(driver, bot, body)
        assert status == 200 and answer["outcome"] == expected
    note = "📟 Dana Scully &lt;!here&gt; acknowledged the page for perf-lead in PagerDuty"
    assert said(fake_slack, inc.channel, "acknowledged the page") == [note]
    await eventually(lambda: "Acknowledged by Dana Scully &lt;!here&gt; (PagerDuty)"
                     in all_text(fake_slack.message(inc.channel, ping.ts)))
    with pytest.raises(AssertionError):
        find_element(fake_slack.message(inc.channel, ping.ts).blocks, "ack_escalation:0")
    incident = await bot.deps.store.get(inc.incident_id)
    assert incident.ack_by == {0: "pagerduty:Dana Scully <!here>"} and incident.acknowledged_at
    assert len(await _events(bot, inc.incident_id, "pagerduty_acknowledged")) == 1
    await driver.click(as_sent, "ack_escalation:0", user="U_BOB", url=bot.url)
    await eventually(lambda: [b for k, b in fake_slack.response_posts if "already acknowledged" in b.get("text", "")])
    assert not fake_pagerduty.accepted("acknowledge")  # PagerDuty is where it was acknowledged


async def test_resolved_in_pagerduty_is_noted_and_the_incident_stays_open(pd_bot, driver, fake_slack,
                                                                          fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "wide Resolved in PagerDuty")
    await driver.command("page perf-lead", channel=inc.channel, url=bot.url)
    trigger = await first_trigger(fake_pagerduty)
    body = webhook("incident.resolved", trigger.dedup_key, agent=None)
    assert (await deliver(driver, bot, body))[1]["outcome"] == "noted"
    assert (await deliver(driver, bot, body))[1]["outcome"] == "duplicate"
    notes = await eventually(lambda: said(fake_slack, inc.channel, "resolved the page"))
    assert len(notes) == 1 and notes[0].startswith("📟 Someone resolved the page for perf-lead in PagerDuty")
    assert (await bot.deps.store.get(inc.incident_id)).is_open
    assert len(await _events(bot, inc.incident_id, "pagerduty_resolved")) == 1


async def test_webhooks_about_other_things_are_ignored(pd_bot, driver, fake_slack, fake_pagerduty):
    bot = await pd_bot()
    inc = await declare(driver, bot, fake_slack, "wide Other news")
    await driver.command("page perf-lead", channel=inc.channel, url=bot.url)
    trigger = await first_trigger(fake_pagerduty)
    await eventually(queue_empty(bot))
    timeline = len(await bot.deps.store.timeline(inc.incident_id))
    for body in (webhook("incident.acknowledged", "someone-elses-alert"),
                 webhook("incident.triggered", trigger.dedup_key),
                 webhook("incident.annotated", trigger.dedup_key),
                 json.dumps({"event": {"id": "01X", "event_type": "service.updated", "data": {}}}).encode()):
        status, answer = await deliver(driver, bot, body)
        assert status == 200 and answer["outcome"] == "ignored"
    assert not said(fake_slack, inc.channel, "in PagerDuty")
    assert len(await bot.deps.store.timeline(inc.incident_id)) == timeline
