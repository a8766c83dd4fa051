"""Claims on due pings: a short lease kept by a heartbeat, history looked at on every attempt a failover could
make a repeat, batches.

Real processes where the fault needs one: a replica killed with SIGKILL while it holds claims, bots restarted
against a promoted Redis replica that never heard a ping was sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess

import redis.asyncio as aioredis

from bot import keys
from bot.embedded_redis import free_port
from bot.incident import Event
from bot.schedule import Due
from bot.store import Store
from bot.workflows.escalate import METADATA_TYPE
from slackfake import FakeSlack
from tests.conftest import ROSTER, eventually
from tests.flows import declare
from tests.redis_server import RedisServer
from tests.test_escalation import ping_ids, pings
from tests.test_service import HangingSlack, bot_env, start_bot, until_healthy

LEASE_S = 3.0  # the default ESCALATION_LEASE_SECONDS: what the takeover promise is about


async def redis_ms(store: Store) -> int:
    sec, usec = await store.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def scores(store: Store, members: list[str]) -> list[float]:
    return [float(await store.redis.zscore(keys.due(), m) or 0) for m in members]


def sent(fake: FakeSlack) -> list[str]:
    """The items of every escalation ping Slack took, in order."""
    return [c.args["metadata"]["event_payload"]["id"] for c in fake.calls_to("chat.postMessage")
            if c.ok and (c.args.get("metadata") or {}).get("event_type") == METADATA_TYPE]


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=15)


async def test_replica_killed_while_posting_is_taken_over_within_five_seconds(make_bot, driver, fake_slack,
                                                                               redis_url):
    """A replica (a real `serve --http` process, default lease) is stuck posting three due pings, so they can
    only be as late as its death allows: each must go out within 5 s of the SIGKILL, once."""
    requester = await make_bot(run_scheduler=False)
    store = requester.deps.store
    loop = asyncio.get_running_loop()
    async with HangingSlack() as hanging_url:
        port = free_port()
        proc = start_bot(bot_env(REDIS_URL=redis_url, SLACK_API_URL=hanging_url, SCHEDULER_INTERVAL="0.1",
                                 ROSTER=json.dumps(ROSTER)), port)
        try:
            await until_healthy(port, proc)
            incidents = [await declare(driver, requester, fake_slack, f"quick Killed {n}") for n in range(3)]
            held = [f"esc|{inc.incident_id}|0" for inc in incidents]

            async def all_confirmed() -> bool:
                return all([await store.redis.hget(keys.job(m), "confirmed") for m in held])

            # The replica claims each first ping, finds nothing in the channel, records it and is stuck posting.
            await eventually(all_confirmed, timeout=20)
            first = await scores(store, held)
            await make_bot(escalation_lease_seconds=LEASE_S)  # another replica, ready to take over

            async def renewed_past_the_first_lease() -> bool:
                return all(s > f + LEASE_S * 1000 for s, f in zip(await scores(store, held), first, strict=True))

            # Alive, the stuck replica keeps its claims: its heartbeat renews them past the first lease, and
            # the other replica, polling all along (and sending pings falling due meanwhile), leaves them.
            await eventually(renewed_past_the_first_lease, timeout=15)
            assert not set(held) & {m for inc in incidents for m in ping_ids(fake_slack, inc.channel)}
            killed = loop.time()
            proc.send_signal(signal.SIGKILL)
            await eventually(lambda: set(held) <= set(sent(fake_slack)), timeout=15)
            for call in fake_slack.calls_to("chat.postMessage"):
                item = ((call.args.get("metadata") or {}).get("event_payload") or {}).get("id")
                if call.ok and item in held:
                    took = call.at - killed
                    assert took <= 5.0, f"{item} taken over {took:.2f} s after the kill"
        finally:
            kill(proc)
    # Everything the killed replica held or would have sent goes out once.
    await eventually(lambda: all(len(ping_ids(fake_slack, inc.channel)) == 3 for inc in incidents), timeout=15)
    for inc in incidents:
        ids = ping_ids(fake_slack, inc.channel)
        assert sorted(ids) == sorted(set(ids)), f"duplicate pings: {ids}"


async def test_bots_restarted_against_a_primary_that_lost_the_pings_post_each_once(make_bot, driver, fake_slack,
                                                                                  redis_server, redis_url):
    """A failover loses the last writes: the promoted replica never heard the pings were sent, so to it the
    next claim is a first attempt. Only Slack's history knows."""
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(redis_server.port)])
    replica.start()
    promoted = aioredis.Redis.from_url(replica.url, decode_responses=True)
    proc: subprocess.Popen[str] | None = None
    try:
        requester = await make_bot(run_scheduler=False)
        inc = await declare(driver, requester, fake_slack, "quick Failed over")
        members = [f"esc|{inc.incident_id}|{level}" for level in range(3)]
        await eventually(lambda: promoted.zscore(keys.due(), members[0]), timeout=10)
        await promoted.execute_command("REPLICAOF", "NO", "ONE")  # what Sentinel does; it lags from here on
        sender = await make_bot()  # a bot on the old primary sends the pings there
        await eventually(lambda: len(pings(fake_slack, inc.channel)) >= 2, timeout=15)
        await sender.stop()
        assert await promoted.hget(keys.job(members[0]), "attempts") is None  # no claim ever reached it
        port = free_port()
        proc = start_bot(bot_env(REDIS_URL=replica.url, SLACK_API_URL=fake_slack.url, SCHEDULER_INTERVAL="0.1",
                                 ROSTER=json.dumps(ROSTER)), port)

        async def all_done() -> bool:
            return all([await promoted.zscore(keys.due(), m) is None for m in members])

        await eventually(all_done, timeout=30)
    finally:
        if proc is not None:
            kill(proc)
        await promoted.aclose()
        replica.close()
    ids = ping_ids(fake_slack, inc.channel)
    assert sorted(ids) == sorted(members), f"each ping once: {ids}"


async def test_a_first_attempt_skips_the_history_when_a_replica_confirmed_its_claim(make_bot, driver, fake_slack,
                                                                                    redis_server):
    """Without a replica's word on the claim, a failover could lose the attempt counter (test above): every
    attempt looks in Slack (here the server was recorded as primary only as the pings fell due, so its own record
    vouches for nothing: tests/test_unbroken.py). With REDIS_WAIT_REPLICAS=1 the counter survives, so a first
    attempt posts at once."""
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(redis_server.port)])
    replica.start()
    follower = aioredis.Redis.from_url(replica.url, decode_responses=True)

    def history(channel: str) -> int:
        return sum(1 for c in fake_slack.calls_to("conversations.history") if c.args.get("channel") == channel)

    try:
        async def linked() -> bool:
            return (await follower.info("replication")).get("master_link_status") == "up"

        await eventually(linked, timeout=15)
        requester = await make_bot(run_scheduler=False)
        plain = await declare(driver, requester, fake_slack, "quick Not confirmed")
        sender = await make_bot()  # REDIS_WAIT_REPLICAS=0: no replica vouches for its claims
        await eventually(lambda: len(pings(fake_slack, plain.channel)) == 3, timeout=20)
        await sender.stop()
        careful = await make_bot(run_scheduler=False, redis_wait_replicas=1, redis_wait_timeout=2.0)
        confirmed = await declare(driver, careful, fake_slack, "quick Confirmed by a replica")
        await make_bot(redis_wait_replicas=1, redis_wait_timeout=2.0)
        await eventually(lambda: len(pings(fake_slack, confirmed.channel)) == 3, timeout=20)
        await asyncio.sleep(0.5)  # a repeat would have been posted by now
    finally:
        await follower.aclose()
        replica.close()
    assert sorted(ping_ids(fake_slack, plain.channel)) == [f"esc|{plain.incident_id}|{n}" for n in range(3)]
    assert sorted(ping_ids(fake_slack, confirmed.channel)) == [f"esc|{confirmed.incident_id}|{n}" for n in range(3)]
    assert history(plain.channel) >= 3, "each unconfirmed first attempt looks for an earlier post"
    assert history(confirmed.channel) == 0, "a first attempt a replica vouches for cannot be a repeat"


async def make_due(store: Store, fake: FakeSlack, n: int, *, playbook: str = "quick") -> list[str]:
    """`n` open incidents, each with a channel and its first ping due now; their members."""
    now = await redis_ms(store)
    members = []
    for i in range(1, n + 1):
        incident_id = str(1000 + i)
        fields = {"id": incident_id, "playbook": playbook, "title": f"Batch {i}", "severity": "P2",
                  "status": "open", "phase": "0", "commander": "U_DECLARER", "declared_by": "U_DECLARER",
                  "declared_at": str(now - 60_000)}
        await store.create_incident(incident_id, f"batch-{i}", fields,
                                    Event(type="declared", actor="U_DECLARER", at=now - 60_000, data={}))
        channel = fake.add_channel(f"inc-batch-{i}")
        await store.link_channel(incident_id, channel.id, channel.name)
        members.append(f"esc|{incident_id}|0")
    await store.schedule({Due.parse(m): now - 10 for m in members})
    return members


async def test_a_reserve_kept_without_its_claim_leaves_the_item_due_when_it_was(make_bot, fake_slack):
    """A replica that reserved a page and died before claiming it (or a failover that kept the reserve and lost
    the claim) moved the items a lease ahead: their next claim still reports the time they fell due, which
    decides whether a first attempt may skip Slack's history (bot/unbroken.py)."""
    bot = await make_bot(run_scheduler=False)
    store = bot.deps.store
    members = await make_due(store, fake_slack, 2)
    due_at = await scores(store, members)
    await store.scripts.reserve([keys.due()], 10, 200)  # the dead replica's reserve; its claim never came
    assert all(moved > first for moved, first in zip(await scores(store, members), due_at, strict=True))

    found: list[int] = []

    async def claimed() -> bool:
        found.extend(claim.due_ms for _, claim in (await store.take_due("replica-b", 3000, limit=10)).claims)
        return len(found) >= len(members)

    await eventually(claimed, timeout=5)
    assert sorted(found) == sorted(int(x) for x in due_at)
    assert await store.redis.zcard(keys.reserved_due()) == 0, "the claims took their due times with them"


async def test_a_reserve_whose_item_was_dropped_before_its_claim_is_forgotten(make_bot, fake_slack):
    """The first due time a dead replica's reserve kept is forgotten once its item left the due set (the incident
    resolved); one whose item is still there is left for its claim."""
    bot = await make_bot(run_scheduler=False)
    store = bot.deps.store
    dropped, kept = await make_due(store, fake_slack, 2)
    await store.scripts.reserve([keys.due()], 10, 60_000)  # the dead replica's reserve; no claim follows
    assert await store.redis.zcard(keys.reserved_due()) == 2
    await store.redis.zrem(keys.due(), dropped)
    assert await store.trim_reserved() == 1
    assert await store.redis.zrange(keys.reserved_due(), 0, -1) == [kept]
    assert await store.trim_reserved() == 0


async def test_a_scheduled_item_this_version_cannot_read_is_left_where_it_is_and_told_once(make_bot, caplog):
    """As a newer replica might write during a rolling upgrade: the item stays for one that can read it, and the
    operator hears of it once, not every lease."""
    bot = await make_bot(run_scheduler=False)
    store = bot.deps.store
    member = "from-a-newer-version|INC-9|?"
    await store.redis.zadd(keys.due(), {member: 0})
    passes = 0

    async def came_back() -> bool:
        nonlocal passes
        await store.take_due("replica-a", 1, limit=10)  # a 1 ms lease: due again at the next pass
        passes += 1
        return passes >= 3

    with caplog.at_level(logging.ERROR, logger="bot.store.scheduled"):
        await eventually(came_back, timeout=5)
    told = [r for r in caplog.records if member in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert await store.redis.zscore(keys.due(), member) is not None, "left for a replica that can read it"


async def test_two_replicas_claim_in_batches_keep_apart_and_drop_what_is_no_longer_wanted(make_bot, fake_slack):
    bot = await make_bot(run_scheduler=False)
    store = bot.deps.store
    members = await make_due(store, fake_slack, 120)
    # One incident resolved since: its ping is dropped at the claim.
    await store.redis.hset(keys.incident("1001"), "status", "resolved")
    first = await store.take_due("replica-a", 3000, limit=50)
    second = await store.take_due("replica-b", 3000, limit=50)
    third = await store.take_due("replica-a", 3000, limit=50)
    assert first.full and second.full and not third.full
    taken = [[d.member for d, _ in t.claims] for t in (first, second, third)]
    assert len(taken[0]) == 49 and len(taken[1]) == 50 and len(taken[2]) == 20  # 120 less the resolved one
    assert sorted(taken[0] + taken[1] + taken[2]) == sorted(m for m in members if m != "esc|1001|0")
    assert all(c.owner == "replica-b" and c.attempt == 1 for _, c in second.claims)
    assert await store.redis.zscore(keys.due(), "esc|1001|0") is None
    assert not (await store.take_due("replica-b", 3000, limit=50)).claims  # everything is held
    # The heartbeat renews only what is still one's own.
    held = first.claims[:2]
    await store.redis.hset(keys.job(held[1][0].member), "owner", "someone-else")
    lost = await store.renew("replica-a", held)
    assert [d.member for d, _ in lost] == [held[1][0].member]
    assert held[1][1].lease.lost and not held[0][1].lease.lost


async def test_many_pings_due_at_once_go_out_once_each_without_waiting_between_pages(make_bot, fake_slack):
    requester = await make_bot(run_scheduler=False)
    members = await make_due(requester.deps.store, fake_slack, 300)
    # Between two ticks a replica would sleep half a minute: only draining full pages at once sends them all
    # well before that.
    await make_bot(scheduler_interval=30.0)
    await make_bot(scheduler_interval=30.0)

    await eventually(lambda: set(members) <= set(sent(fake_slack)), timeout=25)
    store = requester.deps.store

    async def none_due() -> bool:
        async with store.redis.pipeline(transaction=False) as pipe:
            for m in members:
                pipe.zscore(keys.due(), m)
            return all(score is None for score in await pipe.execute())

    await eventually(none_due, timeout=10)
    ids = sent(fake_slack)
    assert sorted(ids) == sorted(members), "each ping exactly once"
