"""Redis topologies with real processes: Sentinel failover (graceful and a crash) under clicks, a Cluster
reached through a node that does not own the bot's slot, and REDIS_URL forms start-up refuses."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.crc import key_slot

from bot import handlers, keys
from bot.embedded_redis import free_port, terminate
from bot.errors import ConfigError, NotSaved, StorageUnavailable
from bot.incident import Event
from bot.redis_conn import parse_redis_url
from bot.settings import load_settings
from bot.store import Store, connect
from tests.conftest import eventually
from tests.flows import all_text, declare, phase_message
from tests.redis_topology import IB_SLOT, Cluster, SentinelGroup
from tests.test_escalation import pings
from tests.test_service import ROOT, bot_env, start_bot

DOWN_AFTER_MS = 1000
# The promise: a new primary is followed within 10 s, plus Sentinel's down-after-milliseconds after a crash.
FOLLOW_DEADLINE_S = 10 + DOWN_AFTER_MS / 1000
BURST_STEPS = 40
FAILOVER_AT = 8  # clicks sent before SENTINEL FAILOVER (one every 0.1 s); the rest follow one every 0.06 s
TOLD_ON_FAILURE = {NotSaved.MESSAGE, StorageUnavailable.MESSAGE}


@pytest.fixture
def sentinels() -> Iterator[SentinelGroup]:
    group = SentinelGroup(down_after_ms=DOWN_AFTER_MS).start()
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    nodes = Cluster().start()
    try:
        yield nodes
    finally:
        nodes.close()


def burst_playbooks(tmp_path: Path) -> Path:
    steps = "".join(f"- [ ] Check item {i}\n" for i in range(BURST_STEPS))
    (tmp_path / "burst.md").write_text(
        "---\nkey: burst\ntitle: Click burst\nseverity: P3\nresponders: []\n---\n"
        f"## Assess\n{steps}## Diagnose\n- [ ] Find it\n## Mitigate\n- [ ] Fix it\n## Resolve\n- [ ] Confirm\n")
    return tmp_path


def told(fake: Any, key: str) -> list[str]:
    """What the bot told the person who made the request answered at `key` (nothing: it was done)."""
    return [str(body.get("text")) for k, body in fake.response_posts if k == key]


async def settled() -> None:
    """Every listener still working after its ack (on any replica in this process) has finished."""
    assert await handlers.drain(60) == 0


async def ready(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(url + "/readyz") as resp:
        return resp.status == 200


def stored_steps(group: SentinelGroup, port: int, incident_id: str) -> set[int]:
    with group.client(port) as client:
        fields = client.hgetall(keys.steps(incident_id))
    return {int(field.split(":")[1]) for field in fields if field.startswith("0:")}


async def test_graceful_failover_during_a_click_burst_loses_no_acknowledged_check_off(
        make_bot, driver, fake_slack, sentinels, tmp_path):
    books = burst_playbooks(tmp_path)
    bots = [await make_bot(playbooks=books, redis_url=sentinels.url) for _ in range(2)]
    inc = await declare(driver, bots[0], fake_slack, "burst Checkout is slow")
    message = phase_message(fake_slack, inc.channel, 0)
    old = sentinels.primary()

    async def click(step: int) -> None:
        status, body = await driver.click(message, f"step:0:{step}", user="U_ALICE", url=bots[step % 2].url,
                                          key=f"burst-{step}")
        assert status == 200, body

    sent = []
    for step in range(BURST_STEPS):
        if step == FAILOVER_AT:
            sentinels.failover()
        sent.append(asyncio.create_task(click(step)))
        # Densest in the second after the replica's promotion, while the old primary still takes writes.
        await asyncio.sleep(0.1 if step < FAILOVER_AT else 0.06)
    await asyncio.gather(*sent)
    await settled()
    new = await eventually(lambda: (port := sentinels.primary()) != old and sentinels.role(port) == "master"
                           and port, timeout=FOLLOW_DEADLINE_S)

    answers = {step: told(fake_slack, f"burst-{step}") for step in range(BURST_STEPS)}
    acknowledged = {step for step, said in answers.items() if not said}
    # Every check-off nobody heard a complaint about is on the new primary; the others heard why.
    assert acknowledged - stored_steps(sentinels, new, inc.incident_id) == set()
    assert {text for said in answers.values() for text in said} <= TOLD_ON_FAILURE, answers
    # The bots followed the new primary: clicks sent after the promotion went through there, /readyz says so,
    # and whoever was told to try again can (a transient refusal on a loaded machine is told too).
    assert acknowledged & set(range(BURST_STEPS - 8, BURST_STEPS)), answers
    for bot in bots:
        await eventually(lambda bot=bot: ready(bot.url), timeout=10)

    async def retried() -> bool:
        for step in sorted(set(range(BURST_STEPS)) - stored_steps(sentinels, new, inc.incident_id)):
            await click(step)
        await settled()
        return stored_steps(sentinels, new, inc.incident_id) == set(range(BURST_STEPS))

    await eventually(retried, timeout=20, interval=0.5)
    # And the checklist shows it: whatever drawing the failover interrupted is repaired.
    await eventually(lambda: all_text(phase_message(fake_slack, inc.channel, 0)).count("✅") == BURST_STEPS,
                     timeout=30)


async def test_a_change_landing_on_the_old_primary_after_the_promotion_never_counts(sentinels):
    """The store on its own, at the moment the clicks above can only hit by chance: the replica was just
    promoted, the old primary still takes writes, and the store's view of the sentinels (under a second old)
    still names the old one."""
    store = Store(connect(sentinels.url))
    try:
        fields = {"id": "7", "title": "before", "status": "open", "playbook": "wide", "severity": "P3", "phase": "0",
                  "declared_by": "U_ALICE", "declared_at": "1"}
        await store.create_incident("7", "request-7", fields, Event(type="declared", actor="U_ALICE", at=1))
        await store.link.writes.watch.view(newer_than=time.monotonic())  # fresh: names the old primary
        old = sentinels.primary()
        sentinels.failover()
        await eventually(lambda: sentinels.role(sentinels.first_replica) == "master", timeout=5, interval=0.01)
        changed, _ = await store.set_fields("7", {"title": "after"}, Event(type="renamed", actor="U", at=2))
        try:
            recorded = await store.note_once("7", Event(type="noted", actor="U", at=3, id="note-1"))
        except NotSaved:
            recorded = False
        new = await eventually(lambda: (port := sentinels.primary()) != old and port, timeout=FOLLOW_DEADLINE_S)
        with sentinels.client(new) as client:
            # Written again on the new primary (safe to repeat), or refused as not saved; never only on the old.
            assert changed and client.hget(keys.incident("7"), "title") == "after"
            assert not recorded or client.sismember(keys.timeline_seen("7"), "note-1")
    finally:
        await store.close()


async def test_primary_killed_the_bot_follows_the_promoted_replica(make_bot, driver, fake_slack, sentinels):
    bot = await make_bot(redis_url=sentinels.url)
    inc = await declare(driver, bot, fake_slack, "wide Checkout is slow")
    message = phase_message(fake_slack, inc.channel, 0)
    old = sentinels.primary()
    sentinels.kill(old)
    assert not await ready(bot.url)  # Sentinel needs down-after-milliseconds (1 s) even to notice
    attempts = []

    async def click_works() -> bool:
        key = f"after-kill-{len(attempts)}"
        attempts.append(key)
        status, _ = await driver.click(message, "step:0:0", user="U_ALICE", url=bot.url, key=key)
        assert status == 200
        await settled()
        return not told(fake_slack, key)

    await eventually(click_works, timeout=FOLLOW_DEADLINE_S, interval=0.2)
    new = sentinels.primary()
    assert new != old and sentinels.role(new) == "master"
    assert 0 in stored_steps(sentinels, new, inc.incident_id)
    assert {text for key in attempts for text in told(fake_slack, key)} <= TOLD_ON_FAILURE
    assert await eventually(lambda: ready(bot.url), timeout=5)


async def test_a_change_no_replica_confirms_is_told_as_not_saved(make_bot, driver, fake_slack):
    """REDIS_WAIT_REPLICAS=1 on a server with no replica: the click is stored but can't be confirmed."""
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "wide Checkout is slow")
    careful = await make_bot(redis_wait_replicas=1, redis_wait_timeout=0.1)
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:0", user="U_ALICE", url=careful.url,
                       key="unconfirmed")
    await settled()
    assert told(fake_slack, "unconfirmed") == [NotSaved.MESSAGE]
    assert not await ready(careful.url) and await ready(bot.url)


async def test_cluster_through_a_node_that_does_not_own_the_slot(make_bot, driver, fake_slack, cluster):
    entry = next(port for port in cluster.ports if port != cluster.owner(IB_SLOT))
    bot = await make_bot(redis_url=cluster.url(entry))
    assert await ready(bot.url)
    inc = await declare(driver, bot, fake_slack, "fast Checkout latency")
    message = phase_message(fake_slack, inc.channel, 0)
    status, _ = await driver.click(message, "step:0:0", user="U_ALICE", url=bot.url, key="cluster-click")
    assert status == 200
    await settled()
    assert told(fake_slack, "cluster-click") == []
    assert (await bot.deps.store.get(inc.incident_id)).steps
    # The scheduler claims the first escalation (due a second after declaring) and posts it; it can be
    # acknowledged, and the phase completed (the script with the most keys).
    ping = (await eventually(lambda: pings(fake_slack, inc.channel), timeout=10))[0]
    await driver.click(ping, "ack_escalation:0", user="U_LEAD", url=bot.url, key="cluster-ack")
    await driver.click(phase_message(fake_slack, inc.channel, 0), "complete_phase:0", user="U_ALICE", url=bot.url,
                       key="cluster-complete")
    await settled()
    assert told(fake_slack, "cluster-ack") == told(fake_slack, "cluster-complete") == []
    await eventually(lambda: "Acknowledged by <@U_LEAD>" in all_text(fake_slack.message(inc.channel, ping.ts)))
    assert (await bot.deps.store.get(inc.incident_id)).phase == 1


def test_every_key_shares_one_cluster_slot():
    """What lets every script and transaction run on one Cluster node: each key of keys.py hashes to IB_SLOT."""
    built = [fn(*["x"] * len(inspect.signature(fn).parameters)) for name, fn in inspect.getmembers(keys)
             if inspect.isfunction(fn) and fn.__module__ == keys.__name__ and not name.startswith("_")]
    assert len(built) > 20 and {key_slot(k.encode()) for k in built} == {IB_SLOT}


BAD_URLS = [
    ("redis+sentinel://:s3cret-pw@10.0.0.1:26379,10.0.0.2:26379", "master name"),
    ("redis+sentinel://:s3cret-pw@10.0.0.1:notaport/mymaster", "port"),
    ("redis+sentinel://:s3cret-pw@10.0.0.1:26379/mymaster/zero", "database"),
    ("redis+sentinel://:s3cret-pw@,10.0.0.2/mymaster", "empty host"),
    ("redis+cluster://:s3cret-pw@10.0.0.1:6379/3", "database"),
    ("redis+cluster://:s3cret-pw@10.0.0.1:6379?ssl=true", "options"),
    ("mongodb://:s3cret-pw@10.0.0.1", "redis+sentinel://"),
    ("redis://:s3cret-pw@10.0.0.1:99999/0", "port"),
    ("redis://:s3cret-pw@10.0.0.1:6379/zero", "database"),
]


@pytest.mark.parametrize(("url", "says"), BAD_URLS)
def test_a_malformed_redis_url_is_one_line_naming_it_and_never_the_password(url, says):
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, redis_url=url)
    message = caught.value.user_message
    assert message.startswith("setting REDIS_URL: ") and says in message and "\n" not in message, message
    assert "s3cret-pw" not in message


def test_wait_replicas_is_refused_where_it_cannot_work():
    with pytest.raises(ConfigError, match="setting REDIS_WAIT_REPLICAS: must be 0 with a redis.cluster"):
        load_settings(env_file=None, redis_url="redis+cluster://10.0.0.1:6379", redis_wait_replicas=1)
    with pytest.raises(ConfigError, match="setting REDIS_WAIT_REPLICAS: must be 0 with the embedded Redis"):
        load_settings(env_file=None, redis_wait_replicas=1)


def test_redis_url_forms():
    sentinel = parse_redis_url("redis+sentinel://app:p%40ss@10.0.0.1,[::1]:26380/my-master/2")
    assert (sentinel.kind, sentinel.hosts, sentinel.master, sentinel.db) == (
        "sentinel", (("10.0.0.1", 26379), ("::1", 26380)), "my-master", 2)
    assert (sentinel.username, sentinel.password) == ("app", "p@ss") and "p@ss" not in sentinel.describe()
    cluster = parse_redis_url("redis+cluster://10.0.0.1:7000,10.0.0.2")
    assert (cluster.kind, cluster.hosts, cluster.password) == ("cluster", (("10.0.0.1", 7000), ("10.0.0.2", 6379)),
                                                               None)
    for url in ("redis://localhost:6379/0", "rediss://:pw@cache.example.com:6380", "unix:///run/redis.sock?db=1"):
        assert parse_redis_url(url).kind == "server"
    settings = load_settings(env_file=None, redis_url="redis+sentinel://:pw@10.0.0.1/mymaster",
                             redis_sentinel_password="sentinel-pw")
    assert settings.wait_replicas == 1 and {"pw", "sentinel-pw"} <= set(settings.secret_values())
    assert load_settings(env_file=None, redis_url="redis://localhost").wait_replicas == 0


def test_check_refuses_a_malformed_url_in_one_line():
    env = {**bot_env(REDIS_URL="redis+sentinel://:s3cret-pw@10.0.0.1:26379")}
    proc = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0] and "master name" in lines[0], proc.stderr
    assert "s3cret-pw" not in proc.stderr + proc.stdout


async def test_serving_with_no_sentinel_answering_stops_in_one_line(fake_slack):
    url = f"redis+sentinel://:s3cret-pw@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/ib"
    proc = start_bot(bot_env(REDIS_URL=url, SLACK_API_URL=fake_slack.url, REDIS_SENTINEL_PASSWORD="other-pw"),
                     free_port())
    try:
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        terminate(proc)
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0] and "no sentinel names a primary" in lines[0], err
    assert "s3cret-pw" not in err and "other-pw" not in err
