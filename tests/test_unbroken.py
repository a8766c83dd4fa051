"""A first attempt on a server that kept every write since before the item fell due posts without reading
Slack's history; a server that may have lost writes (here: a replica promoted without the last ones) reads it.

Real servers throughout: INFO, the record and the promotion are Redis's own. Time moves the way the sandbox
moves it (the scripts' clock offset, and the bot's clock with it), so nothing waits for SKEW_MS to pass.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from bot import keys, unbroken
from bot.deps import wall_clock_ms
from bot.store import Store
from slackfake import FakeSlack
from tests.conftest import eventually
from tests.flows import declare
from tests.redis_server import RedisServer
from tests.test_escalation import ping_ids, pings

LATER_MS = 60_000  # well past SKEW_MS


def history(fake: FakeSlack, channel: str) -> int:
    return sum(1 for c in fake.calls_to("conversations.history") if c.args.get("channel") == channel)


def a_minute_on() -> int:
    return wall_clock_ms() + LATER_MS


async def recorded(store: Store) -> dict[str, str]:
    """The record the scheduler writes, once it is there."""
    await eventually(lambda: store.redis.hget(keys.server_since(), "since"), timeout=10)
    return dict(await store.redis.hgetall(keys.server_since()))


async def looked_at(client: aioredis.Redis, record: list[str | None]) -> unbroken.Served:
    """What unbroken makes of this server's real INFO beside `record` (run_id, replid, since), read raw as the
    claim's pipeline reads it (no response callbacks)."""
    async with Pipeline(client.connection_pool, {}, False, None) as pipe:
        pipe.execute_command("INFO", "server")
        pipe.execute_command("INFO", "replication")
        info = await pipe.execute()
    assert all(isinstance(x, str) for x in info), "raw text, as the claim reads it"
    return unbroken.served([*info, record])


async def test_the_record_counts_only_for_the_primary_it_names(redis_url, redis_server):
    primary = aioredis.Redis.from_url(redis_url, decode_responses=True)
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(redis_server.port)])
    replica.start()
    follower = aioredis.Redis.from_url(replica.url, decode_responses=True)
    try:
        info = await primary.info("server") | await primary.info("replication")
        run_id, replid = str(info["run_id"]), str(info["master_replid"])
        served = await looked_at(primary, [run_id, replid, "1000"])
        assert (served.run_id, served.replid, served.primary, served.since_ms) == (run_id, replid, True, 1000)
        assert served.kept_since(1000 + unbroken.SKEW_MS) and not served.kept_since(999 + unbroken.SKEW_MS)
        for other in ([run_id, "f" * 40, "1000"], ["0" * 40, replid, "1000"], [None, None, None]):
            assert (await looked_at(primary, other)).since_ms is None, other
        assert (await looked_at(primary, [None, None, None])).unrecorded
        # A replica shares the primary's replid but not its run_id, and is no primary.
        copy = await looked_at(follower, [run_id, replid, "1000"])
        assert not copy.primary and copy.since_ms is None and not copy.kept_since(10**15)
    finally:
        await primary.aclose()
        await follower.aclose()
        replica.close()


async def test_a_first_attempt_on_a_server_kept_since_before_it_fell_due_posts_without_looking(
        make_bot, driver, fake_slack):
    sender = await make_bot()  # no replica, REDIS_WAIT_REPLICAS=0; its scheduler records the primary
    store = sender.deps.store
    await recorded(store)
    await store.advance_clock(LATER_MS)
    requester = await make_bot(run_scheduler=False, clock=a_minute_on)
    inc = await declare(driver, requester, fake_slack, "quick Kept since")
    members = [f"esc|{inc.incident_id}|{n}" for n in range(3)]
    await eventually(lambda: len(pings(fake_slack, inc.channel)) == 3, timeout=20)
    assert sorted(ping_ids(fake_slack, inc.channel)) == members
    assert history(fake_slack, inc.channel) == 0, "no earlier attempt can have been lost"


async def test_with_redis_trust_info_off_every_first_attempt_looks(make_bot, driver, fake_slack):
    sender = await make_bot(redis_trust_info=False)  # behind a proxy whose INFO may speak for several servers
    store = sender.deps.store
    assert await store.record_server() is None
    await store.advance_clock(LATER_MS)
    requester = await make_bot(run_scheduler=False, clock=a_minute_on)
    inc = await declare(driver, requester, fake_slack, "quick Not trusted")
    await eventually(lambda: len(pings(fake_slack, inc.channel)) == 3, timeout=20)
    assert history(fake_slack, inc.channel) >= 3
    assert await store.redis.exists(keys.server_since()) == 0, "nothing recorded"


async def test_a_promoted_replica_looks_in_slack_for_the_pings_its_old_primary_sent(make_bot, driver, fake_slack,
                                                                                  redis_server):
    """The replica copies the primary's record with everything else, then is promoted without the last writes:
    the pings sent meanwhile. Its first attempts must not trust the copied record: they read the history, find
    the pings and post none again."""
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(redis_server.port)])
    replica.start()
    follower = aioredis.Redis.from_url(replica.url, decode_responses=True)
    try:
        async def linked() -> bool:
            return (await follower.info("replication")).get("master_link_status") == "up"

        await eventually(linked, timeout=15)
        recorder = await make_bot()  # records the primary, and is gone before anything falls due
        store = recorder.deps.store
        record = await recorded(store)
        await store.advance_clock(LATER_MS)
        await recorder.stop()
        requester = await make_bot(run_scheduler=False, clock=a_minute_on)
        inc = await declare(driver, requester, fake_slack, "quick Promoted")
        members = [f"esc|{inc.incident_id}|{n}" for n in range(3)]
        await eventually(lambda: follower.zscore(keys.due(), members[2]), timeout=10)
        await eventually(lambda: follower.get(keys.clock_offset()), timeout=10)
        await follower.execute_command("REPLICAOF", "NO", "ONE")  # what Sentinel does; it lags from here on
        sender = await make_bot()  # on the old primary, which it finds recorded
        await eventually(lambda: len(pings(fake_slack, inc.channel)) == 3, timeout=20)
        await sender.stop()
        assert history(fake_slack, inc.channel) == 0, "the old primary kept every claim"
        assert await follower.hget(keys.server_since(), "run_id") == record["run_id"], "the record was copied"
        assert await follower.hget(keys.job(members[0]), "attempts") is None, "no claim reached the replica"

        promoted = await make_bot(redis_url=replica.url)

        async def all_done() -> bool:
            return all([await follower.zscore(keys.due(), m) is None for m in members])

        await eventually(all_done, timeout=30)
        await promoted.stop()
    finally:
        await follower.aclose()
        replica.close()
    assert sorted(ping_ids(fake_slack, inc.channel)) == members, "each ping once"
    assert history(fake_slack, inc.channel) >= 3, "each first attempt on the promoted server looked"


async def test_a_redis_user_without_info_still_escalates_looking_in_slack_each_time(make_bot, driver, fake_slack,
                                                                                   redis_server, caplog):
    """INFO is in ACL's @dangerous category, which a managed Redis may withhold: the claims go on, each first
    attempt reads the history instead, and the operator is told once why."""
    admin = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await admin.execute_command("ACL", "SETUSER", "no-info", "on", ">secret-pw", "~*", "&*", "+@all", "-info")
    try:
        url = f"redis://no-info:secret-pw@127.0.0.1:{redis_server.port}/0"
        sender = await make_bot(redis_url=url)
        await eventually(lambda: "Redis refused INFO" in caplog.text, timeout=10)
        await sender.deps.store.advance_clock(LATER_MS)  # past SKEW_MS, were anything recorded
        requester = await make_bot(run_scheduler=False, clock=a_minute_on)
        inc = await declare(driver, requester, fake_slack, "quick No INFO")
        members = [f"esc|{inc.incident_id}|{n}" for n in range(3)]
        await eventually(lambda: len(pings(fake_slack, inc.channel)) == 3, timeout=20)
        await sender.stop()
    finally:
        await admin.execute_command("ACL", "DELUSER", "no-info")
        await admin.aclose()
    assert sorted(ping_ids(fake_slack, inc.channel)) == members
    assert history(fake_slack, inc.channel) >= 3, "with nothing to vouch for them, first attempts look"
    assert caplog.text.count("Redis refused INFO") == 1
