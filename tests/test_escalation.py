"""Escalation: durable, on time, exactly once across replicas, never after resolve."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.claims import Claim
from bot.incident import Event
from bot.schedule import Due, DueKind
from bot.workflows.escalate import METADATA_TYPE
from tests.conftest import eventually
from tests.driver import find_element
from tests.flows import all_text, card, command_modal, declare
from tests.redis_server import RedisServer

# Converts the fake's monotonic arrival times to wall-clock epoch seconds.
MONO_TO_WALL = time.time() - time.monotonic()


def pings(fake: Any, channel: str) -> list[Any]:
    return [m for m in fake.channels[channel].messages
            if (m.metadata or {}).get("event_type") == METADATA_TYPE]


def ping_ids(fake: Any, channel: str) -> list[str]:
    return [m.metadata["event_payload"]["id"] for m in pings(fake, channel)]


def post_time(fake: Any, message: Any) -> float:
    """Wall time at which the fake received the chat.postMessage that made `message`."""
    call = next(c for c in fake.calls_to("chat.postMessage") if c.ok and c.response["ts"] == message.ts)
    return call.at + MONO_TO_WALL


async def resolve_via_modal(driver: Any, bot: Any, fake: Any, channel: str) -> dict[str, Any]:
    view, _ = await command_modal(driver, bot, fake, "resolve", channel)
    return view


async def test_each_ping_once_and_on_time_with_two_replicas(make_bot, driver, fake_slack):
    bot_a = await make_bot()
    await make_bot()  # a second replica racing for the same pings
    inc = await declare(driver, bot_a, fake_slack, "fast Checkout latency")
    incident = await bot_a.deps.store.get(inc.incident_id)
    await eventually(lambda: len(pings(fake_slack, inc.channel)) >= 4, timeout=8)
    await asyncio.sleep(1.0)  # anything duplicated would have arrived by now
    ids = ping_ids(fake_slack, inc.channel)
    assert sorted(ids) == sorted({*ids}), f"duplicate pings: {ids}"
    assert set(ids) == {f"esc|{inc.incident_id}|0", f"esc|{inc.incident_id}|1", f"esc|{inc.incident_id}|2",
                        f"phase|{inc.incident_id}|0"}
    book = bot_a.deps.playbooks["fast"]
    for message in pings(fake_slack, inc.channel):
        due = Due.parse(message.metadata["event_payload"]["id"])
        after = book.meta.escalation[due.index].after if due.kind == DueKind.ESCALATION else 2
        lateness = post_time(fake_slack, message) - (incident.declared_at / 1000 + after)
        assert -0.05 <= lateness < 1.0, f"{due.member} posted {lateness:.3f}s from its due time"
    texts = [all_text(m) for m in pings(fake_slack, inc.channel)]
    lead = next(t for t in texts if "Performance Engineering Lead" in t)
    assert "<@U_LEAD>" in lead and "Checkout latency" in lead and "P2" in lead and "open for" in lead
    assert "Acknowledge" in lead
    vp = next(t for t in texts if "VP of Engineering" in t)
    assert "<@U_VP>" in vp and "*unmapped-role* (no roster entry)" in vp
    assert any("Assess* has run past its target window" in t for t in texts)
    # Level 2 raised the severity: card, topic and timeline follow.
    await eventually(lambda: "*Severity*\nP1" in all_text(card(fake_slack, inc.channel)))
    assert fake_slack.channels[inc.channel].topic.startswith("P1")
    types = [e.type for e in await bot_a.deps.store.timeline(inc.incident_id)]
    assert types.count("escalated") == 3 and types.count("phase_overdue") == 1
    assert types.count("severity_changed") == 1


async def test_resolve_racing_the_due_time_is_never_followed_by_a_ping(make_bot, driver, fake_slack):
    bot_a = await make_bot()
    bot_b = await make_bot()
    rng = random.Random(7)
    offsets = [rng.uniform(-0.25, 0.25) for _ in range(8)]
    for n, offset in enumerate(offsets):
        inc = await declare(driver, bot_a, fake_slack, f"race Race {n}")
        incident = await bot_a.deps.store.get(inc.incident_id)
        view = await resolve_via_modal(driver, bot_a, fake_slack, inc.channel)
        due = incident.declared_at / 1000 + 1.0
        await asyncio.sleep(max(0.0, due + offset - time.time()))
        target = bot_a if n % 2 else bot_b
        await driver.submit_view(view, {"cause": "c", "resolution": "r"}, url=target.url)
        await eventually(lambda inc=inc: any("resolved*" in m.text for m in fake_slack.channels[inc.channel].messages))
        await asyncio.sleep(0.4)
        messages = fake_slack.channels[inc.channel].messages
        resolved_at = next(i for i, m in enumerate(messages) if "resolved*" in m.text)
        late_pings = [m for m in messages[resolved_at:] if (m.metadata or {}).get("event_type") == METADATA_TYPE]
        assert not late_pings, f"ping after resolve (offset {offset:+.3f}s)"
        assert len(pings(fake_slack, inc.channel)) <= 1
        types = [e.type for e in await bot_a.deps.store.timeline(inc.incident_id)]
        assert "escalated" not in types[types.index("resolved"):]
        assert ("escalated" in types) == bool(pings(fake_slack, inc.channel))
    # Nothing for these incidents remains scheduled.
    assert await bot_a.deps.store.redis.zcard(keys.due()) == 0


async def claimed_by_dying_replica(make_bot, driver, fake_slack, title: str) -> tuple[Any, Any, str, Claim]:
    """Declare on a replica without a scheduler, then claim the first ping as a replica that then dies."""
    bot = await make_bot(run_scheduler=False, escalation_lease_seconds=1.0)
    inc = await declare(driver, bot, fake_slack, f"race {title}")
    member = f"esc|{inc.incident_id}|0"
    await eventually(lambda: bot.deps.store.due_members(), timeout=3)
    claim = await bot.deps.store.claim(Due.parse(member), "replica-that-died", 1000)
    assert claim is not None and claim.attempt == 1
    return bot.deps.store, inc, member, claim


async def test_replica_dying_after_claim_is_replaced_once(make_bot, driver, fake_slack):
    _, inc, member, _ = await claimed_by_dying_replica(make_bot, driver, fake_slack, "Claimed then died")
    claimed_at = time.time()
    await make_bot(escalation_lease_seconds=1.0)
    await eventually(lambda: pings(fake_slack, inc.channel), timeout=4)
    await asyncio.sleep(1.0)
    assert ping_ids(fake_slack, inc.channel) == [member]
    took = post_time(fake_slack, pings(fake_slack, inc.channel)[0]) - claimed_at
    assert took < 1.0 + 1.0, f"recovered {took:.2f}s after the claim (lease 1 s + poll)"


async def test_replica_dying_after_posting_does_not_ping_twice(make_bot, driver, fake_slack):
    store, inc, member, claim = await claimed_by_dying_replica(make_bot, driver, fake_slack, "Posted then died")
    # Replay the rest of a replica's work up to the crash: confirm, post — but never finish.
    event = Event(type="escalated", actor="bot", at=claim.now_ms, id=f"esc:{member}", data={"level": 0})
    assert await store.confirm(Due.parse(member), claim, event) is not None
    client = AsyncWebClient(base_url=fake_slack.url, token="xoxb-test")
    await client.chat_postMessage(channel=inc.channel, text="Escalation 1",
                                  metadata={"event_type": METADATA_TYPE, "event_payload": {"id": member}})
    await make_bot(escalation_lease_seconds=1.0)

    async def finished() -> bool:
        return await store.redis.zscore(keys.due(), member) is None

    await eventually(finished, timeout=4)
    await asyncio.sleep(0.5)
    assert ping_ids(fake_slack, inc.channel) == [member]
    history = [c for c in fake_slack.calls_to("conversations.history") if c.args.get("channel") == inc.channel]
    assert history, "the second attempt must look for the earlier post"
    events = [e for e in await store.timeline(inc.incident_id) if e.type == "escalated"]
    assert len(events) == 1


async def test_missed_ping_goes_out_once_marked_late_after_downtime(make_bot, driver, fake_slack):
    bot_a = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot_a, fake_slack, "race Down at due time")
    await bot_a.stop()  # every instance is down
    await asyncio.sleep(2.0)  # due at 1 s; now well past it
    await make_bot(late_after_seconds=0.5)
    await make_bot(late_after_seconds=0.5)
    await eventually(lambda: pings(fake_slack, inc.channel), timeout=3)
    await asyncio.sleep(0.8)
    assert len(pings(fake_slack, inc.channel)) == 1
    assert "late" in all_text(pings(fake_slack, inc.channel)[0])
    bot = await make_bot(run_scheduler=False)
    events = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "escalated"]
    assert events[0].data["late"] is True


async def test_schedule_survives_redis_restart(make_bot, driver, fake_slack, redis_server: RedisServer):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "race Redis restarts")
    redis_server.restart()  # append-only file on: the schedule must come back
    await eventually(lambda: pings(fake_slack, inc.channel), timeout=6)
    await asyncio.sleep(0.5)
    assert len(pings(fake_slack, inc.channel)) == 1


async def test_acknowledge_records_who_picked_it_up_once(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "race Acknowledge me")
    ping = (await eventually(lambda: pings(fake_slack, inc.channel), timeout=4))[0]
    action = find_element(ping.blocks, "ack_escalation:0")["action_id"]
    original = type(ping)(**{**ping.__dict__})
    await driver.click(original, action, user="U_LEAD", url=bot.url)
    await eventually(lambda: "Acknowledged by <@U_LEAD>" in all_text(fake_slack.message(inc.channel, ping.ts)))
    await driver.click(original, action, user="U_BOB", url=bot.url)
    reply = await eventually(lambda: [b for k, b in fake_slack.response_posts
                                      if k.startswith("click-") and "already acknowledged" in b.get("text", "")])
    assert reply
    events = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "escalation_acknowledged"]
    assert len(events) == 1 and events[0].actor == "U_LEAD"


async def test_phase_completed_in_time_gets_no_reminder(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "fast Quick assess")
    from tests.flows import phase_message

    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user="U_ALICE", url=bot.url)
    await eventually(lambda: phase_message(fake_slack, inc.channel, 1))
    await asyncio.sleep(2.5)
    assert f"phase|{inc.incident_id}|0" not in ping_ids(fake_slack, inc.channel)


async def test_ping_slack_keeps_refusing_is_given_up(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    inc = await declare(driver, bot, fake_slack, "race Channel archived")
    member = f"esc|{inc.incident_id}|0"
    store = bot.deps.store
    await eventually(lambda: store.due_members(), timeout=3)
    assert await store.claim(Due.parse(member), "a", lease_ms=0, max_attempts=2) is not None
    assert await store.claim(Due.parse(member), "b", lease_ms=0, max_attempts=2) is not None
    assert await store.claim(Due.parse(member), "c", lease_ms=0, max_attempts=2) is None
    assert await store.redis.zscore(keys.due(), member) is None
