"""Alerts in: Alertmanager's webhook declares (or suggests) the matching playbook, once per alert group, and
the incident follows the group's alerts. Driven over HTTP like Alertmanager and Slack, on a real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import keys
from bot.alerts import BadNotification, choose_playbook, group_id, label_sets, matches, parse
from bot.errors import ConfigError
from bot.playbook_file import load_playbooks, parse_playbook
from bot.schedule import Due
from bot.settings import load_settings
from bot.timeline_view import describe, plain
from bot.workflows.alerts import NOTE_METADATA
from tests.conftest import TEST_PLAYBOOKS, eventually
from tests.flows import all_text, card

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "alert-token-0123456789abcdef"
SHIPPED = load_playbooks(ROOT / "playbooks")
TESTED = load_playbooks(TEST_PLAYBOOKS)


# ---------------------------------------------------------------------------------------------- building bodies

def alert(name: str = "PagedLatency", *, status: str = "firing", fp: str = "", starts: str = "2024-05-01T10:00:00Z",
          summary: str = "", **labels: str) -> dict[str, Any]:
    labels = {"alertname": name, **labels}
    return {"status": status, "labels": labels, "annotations": {"summary": summary} if summary else {},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2024-05-01T11:00:00Z",
            "generatorURL": f"http://prometheus.test/graph?g0.expr={name}",
            "fingerprint": fp or hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]}


def body(*alerts: dict[str, Any], group: str = '{}:{alertname="PagedLatency"}', status: str = "",
         summary: str = "", **common: str) -> dict[str, Any]:
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    shared = {k: v for k, v in alerts[0]["labels"].items()
              if all(a["labels"].get(k) == v for a in alerts)}
    return {"version": "4", "groupKey": group, "truncatedAlerts": 0, "status": status, "receiver": "bot",
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]}, "commonLabels": {**shared, **common},
            "commonAnnotations": {"summary": summary} if summary else {},
            "externalURL": "http://alertmanager.test:9093", "alerts": list(alerts)}


async def send(driver: Any, bot: Any, payload: Any, *, token: str | None = TOKEN,
               raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(payload).encode()
    async with driver.session.post(bot.url + "/alerts/alertmanager", data=io.BytesIO(data), headers=headers) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text.startswith("{") else {"text": text}


async def settled(bot: Any, payload: dict[str, Any]) -> str:
    """Wait until the group of `payload` has no delivery left to process and no note left to post; its id."""
    group = group_id(payload["groupKey"])
    store = bot.deps.store

    async def done() -> bool:
        state = await store.alert_group(group)
        if state.get("queued") or await store.redis.zcard(keys.alert_inbox(group)):
            return False
        if state.get("incident") and await store.redis.exists(keys.incident(state["incident"])):
            incident = await store.get(state["incident"])
            return set(incident.alert_note) <= set(incident.alert_note_ts)
        return True

    await eventually(done, timeout=10)
    return group


def created_channels(fake: Any) -> list[str]:
    return [c.response["channel"]["id"] for c in fake.calls_to("conversations.create") if c.ok]


def notes(fake: Any, channel: str) -> list[Any]:
    return [m for m in fake.channels[channel].messages if (m.metadata or {}).get("event_type") == NOTE_METADATA]


def suggestions(fake: Any) -> list[Any]:
    return [m for m in fake.channel_by_name("incidents").messages if "Alert firing" in m.text]


@pytest.fixture
async def alerted(make_bot):
    """Two replicas sharing Redis, each taking alerts and running its scheduler."""
    return [await make_bot(alert_webhook_token=TOKEN), await make_bot(alert_webhook_token=TOKEN)]


# ---------------------------------------------------------------------------------------------- matching

def test_matchers_equal_or_match_the_whole_label_value():
    assert matches({"alertname": "ApiLatencyHigh"}, {"alertname": "ApiLatencyHigh", "x": "y"})
    assert not matches({"alertname": "ApiLatencyHigh"}, {"alertname": "ApiLatencyHighest"})
    assert matches({"service": "api", "severity": "~critical|page"}, {"service": "api", "severity": "page"})
    assert not matches({"service": "api", "severity": "~critical|page"}, {"service": "api", "severity": "pager"})
    assert not matches({"service": "api", "severity": "~crit"}, {"service": "api", "severity": "critical"})
    assert not matches({"service": "api"}, {"alertname": "x"})  # a missing label is empty
    assert matches({"team": "~"}, {"alertname": "x"})


def test_playbook_label_wins_then_the_most_specific_matcher():
    paged_by_service = {"alertname": "Other", "service": "checkout", "severity": "critical"}
    assert choose_playbook(TESTED, [paged_by_service]).key == "paged"
    assert choose_playbook(TESTED, [{**paged_by_service, "playbook": "hinted"}]).key == "hinted"
    # An unknown playbook label falls back to the matchers.
    assert choose_playbook(TESTED, [{**paged_by_service, "playbook": "nope"}]).key == "paged"
    assert choose_playbook(TESTED, [{"alertname": "Unknown"}]) is None
    # The first alert that matches decides, firing alerts before resolved ones.
    mixed = parse(body(alert("Unknown", fp="a1"), alert("Hinted", fp="a2"),
                       alert("PagedX", fp="a3", status="resolved")))
    assert choose_playbook(TESTED, label_sets(mixed)).key == "hinted"


@pytest.mark.parametrize(("name", "key"), [
    ("HighResponseTime", "api-latency"), ("LowCacheHitRate", "api-latency"),
    ("BoltEventPoolExhaustion", "logging-latency"), ("BoltLoggingLatencyWarning", "logging-latency"),
    ("ApiResponseTimeHigh", "perf"), ("CpuUtilizationHigh", "perf"),
])
def test_shipped_playbooks_match_their_runbooks_alerts(name, key):
    assert choose_playbook(SHIPPED, [{"alertname": name, "severity": "critical"}]).key == key


def test_shipped_service_playbook_matches_the_service_label():
    assert choose_playbook(SHIPPED, [{"alertname": "HighMemory", "service": "llm-config-manager"}]).key == \
        "service-perf"
    assert choose_playbook(SHIPPED, [{"alertname": "DiskFull", "service": "billing"}]) is None


@pytest.mark.parametrize(("matchers", "line", "words"), [
    ('alerts:\n  - {alertname: "~Api(Latency"}\n', 6, "not a valid regular expression"),
    ("alerts:\n  - {}\n", 6, "alerts.0"),
    ("alerts:\n  - {bad-label: x}\n", 6, "alerts.0.bad-label"),
    ("alerts:\n  - {severity: 2}\n", 6, "should be text"),
    ("alert_mode: page\n", 5, "alert_mode"),
])
def test_bad_matchers_are_playbook_errors_with_file_and_line(tmp_path, matchers, line, words):
    path = tmp_path / "bad.md"
    path.write_text(f"---\nkey: bad\ntitle: Bad\nseverity: P2\n{matchers}---\n## Assess\n- [ ] a\n## Diagnose\n"
                    "- [ ] b\n## Mitigate\n- [ ] c\n## Resolve\n- [ ] d\n")
    with pytest.raises(ConfigError) as info:
        parse_playbook(path)
    assert info.value.user_message.startswith(f"{path}:{line}: ") and words in info.value.user_message, \
        info.value.user_message


def test_grafana_body_is_accepted_with_its_extra_fields():
    grafana = body(alert(summary="High memory usage"))
    grafana.update(version="1", orgId=1, state="alerting", title="[FIRING:1] High memory usage",
                   message="**Firing**")
    grafana["alerts"][0].update(silenceURL="http://grafana.test/silence", values={"B": 44.2}, valueString="x")
    assert parse(grafana).alerts[0].labels["alertname"] == "PagedLatency"
    with pytest.raises(BadNotification, match="version"):
        parse({**grafana, "version": "3"})


# ---------------------------------------------------------------------------------------------- the endpoint

async def test_without_the_right_bearer_token_nothing_changes(make_bot, driver, fake_slack):
    bot = await make_bot(alert_webhook_token=TOKEN)
    payload = body(alert())
    for token in (None, "wrong-token-0123456789abcdef", TOKEN[:-1], ""):
        status, _ = await send(driver, bot, payload, token=token)
        assert status == 401
    async with driver.session.post(bot.url + "/alerts/alertmanager", json=payload,
                                   headers={"Authorization": f"Basic {TOKEN}"}) as resp:
        assert resp.status == 401
    assert not [k async for k in bot.deps.store.redis.scan_iter(match="{ib}:alert*")]
    assert not fake_slack.calls_to("conversations.create")


def test_a_weak_token_stops_start_up_with_one_line():
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, alert_webhook_token="short")
    assert info.value.user_message.startswith("setting ALERT_WEBHOOK_TOKEN: expected at least 16 characters")
    assert "short" not in info.value.user_message
    assert load_settings(env_file=None, alert_webhook_token="").alert_webhook_token is None


async def test_without_a_token_set_the_route_is_off(make_bot, driver):
    bot = await make_bot()
    status, _ = await send(driver, bot, body(alert()))
    assert status == 404


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"{not json", 400, "not JSON"),
    (b"\xff\xfe", 400, "not JSON"),
    (b"[" * 100_000, 400, "not JSON"),
    (b"[]", 400, "JSON object"),
    (json.dumps({**body(alert()), "groupKey": ""}).encode(), 400, "groupKey"),
    (json.dumps({k: v for k, v in body(alert()).items() if k != "alerts"}).encode(), 400, "alerts"),
    (json.dumps({**body(alert()), "alerts": []}).encode(), 400, "alerts"),
    (json.dumps({**body(alert()), "version": "3"}).encode(), 400, "version"),
    (json.dumps(body({**alert(), "status": "pending"})).encode(), 400, "alerts.0.status"),
    (json.dumps({**body(alert()), "commonLabels": {"alertname": 5}}).encode(), 400, "commonLabels.alertname"),
    (b"{" + b" " * 1_100_000 + b"}", 413, "over 1 MB"),
])
async def test_bad_bodies_get_one_line_and_store_nothing(make_bot, driver, fake_slack, caplog, raw, status, words):
    bot = await make_bot(alert_webhook_token=TOKEN)
    caplog.set_level(logging.DEBUG)
    got, answer = await send(driver, bot, None, raw=raw)
    assert got == status, answer
    assert words in answer["error"] and "\n" not in answer["error"] and len(answer["error"]) < 200
    assert not [k async for k in bot.deps.store.redis.scan_iter(match="{ib}:alert*")]
    assert not fake_slack.calls
    assert all("PagedLatency" not in r.getMessage() and len(r.getMessage()) < 300 for r in caplog.records)


async def test_an_alert_no_playbook_matches_is_logged_and_answered_200(make_bot, driver, fake_slack, caplog):
    bot = await make_bot(alert_webhook_token=TOKEN)
    caplog.set_level(logging.INFO)
    status, answer = await send(driver, bot, body(alert("DiskFull", service="billing"), group="{}:{x}"))
    assert status == 200 and answer == {"ok": True, "matched": False}
    assert any("DiskFull" in r.getMessage() and "matches no playbook" in r.getMessage() for r in caplog.records)
    assert not [k async for k in bot.deps.store.redis.scan_iter(match="{ib}:alert*")]  # nothing to process
    assert not fake_slack.calls


async def test_delivery_is_stored_before_the_answer_and_any_replica_processes_it(make_bot, driver, fake_slack):
    receiver = await make_bot(alert_webhook_token=TOKEN, run_scheduler=False)
    payload = body(alert(summary="Checkout p99 above 2 s"))
    status, answer = await send(driver, receiver, payload)
    assert status == 202 and answer["group"] == group_id(payload["groupKey"])
    assert await receiver.deps.store.alert_inbox(answer["group"])
    assert not fake_slack.calls_to("conversations.create")
    await make_bot()  # another replica, without the webhook, picks the group up
    await eventually(lambda: created_channels(fake_slack), timeout=10)
    await settled(receiver, payload)
    assert len(created_channels(fake_slack)) == 1


async def test_a_delivery_arriving_while_a_replica_processes_its_group_is_not_lost(make_bot, driver, fake_slack):
    bot = await make_bot(alert_webhook_token=TOKEN, run_scheduler=False)
    store = bot.deps.store
    first = body(alert(fp="1111", summary="Checkout p99 above 2 s"))
    await send(driver, bot, first)
    group, due = group_id(first["groupKey"]), Due.alert(group_id(first["groupKey"]))
    claim = await store.claim(due, "replica-a", 30_000)
    taken = await store.alert_inbox(group)  # what replica A is processing
    await send(driver, bot, body(alert(fp="1111", summary="Checkout p99 above 2 s"),
                                 alert(fp="2222", summary="Checkout errors above 5 %", instance="b")))
    assert claim is not None and await store.claim(due, "replica-b", 30_000) is None, "A holds the group"
    assert await store.alert_finish(group, claim, taken[-1][0]) == "more"
    assert [seq for seq, _ in await store.alert_inbox(group)] == [2]
    # Queued again at once: the next replica processes the delivery that arrived meanwhile.
    await make_bot()
    channel = (await eventually(lambda: created_channels(fake_slack), timeout=10))[0]
    await settled(bot, first)
    assert "Checkout errors above 5 %" in all_text(card(fake_slack, channel))


async def test_a_replica_whose_lease_ran_out_trims_what_it_did_and_leaves_the_group_to_the_next(
        make_bot, driver):
    bot = await make_bot(alert_webhook_token=TOKEN, run_scheduler=False)
    store = bot.deps.store
    payload = body(alert(fp="3333"))
    await send(driver, bot, payload)
    group, due = group_id(payload["groupKey"]), Due.alert(group_id(payload["groupKey"]))
    slow = await store.claim(due, "replica-a", 1)
    taken = await store.alert_inbox(group)
    other = await eventually(lambda: store.claim(due, "replica-b", 30_000))  # A's lease ran out
    assert slow is not None and other.attempt == 2
    assert await store.alert_finish(group, slow, taken[-1][0]) == "lost"
    assert await store.alert_inbox(group) == []
    assert await store.alert_finish(group, other, taken[-1][0]) == "done"
    assert "queued" not in await store.alert_group(group)
    assert await store.redis.zcard(keys.alert_due()) == 0


# ---------------------------------------------------------------------------------------------- declare

def declared_by_alert(exposed: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(exposed) for s in f.samples
               if s.name == "incidentbot_incidents_declared_total" and s.labels == {"playbook": "paged",
                                                                                   "source": "alert"})


async def scrape(driver: Any, bot: Any) -> str:
    async with driver.session.get(bot.url + "/metrics") as resp:
        return await resp.text()


async def test_an_alert_declares_its_playbook_like_the_command(alerted, driver, fake_slack):
    bot = alerted[0]
    before = declared_by_alert(await scrape(driver, bot))
    payload = body(alert(summary="Checkout p99 above 2 s", service="checkout"),
                   alert("PagedLatency", fp="b2", summary="Checkout p99 above 2 s (eu)", region="eu"),
                   summary="Checkout p99 above 2 s")
    status, _ = await send(driver, bot, payload)
    assert status == 202
    channel = (await eventually(lambda: created_channels(fake_slack), timeout=10))[0]
    group = await settled(bot, payload)
    incident_id = await bot.deps.store.incident_for_channel(channel)
    incident = await bot.deps.store.get(incident_id)
    assert incident.title == "Checkout p99 above 2 s" and incident.playbook == "paged"
    assert incident.source == "alert" and incident.alert_group == group and incident.service == "checkout"
    assert fake_slack.channels[channel].name.startswith("inc-") and "paged-checkout-p99" in \
        fake_slack.channels[channel].name
    assert "U_ONCALL" in fake_slack.channels[channel].members
    text = all_text(await eventually(lambda: card(fake_slack, channel)))
    for expected in ("Opened by*\nan alert", "*Firing alerts* · <http://alertmanager.test:9093|Alertmanager>",
                     "<http://prometheus.test/graph?g0.expr=PagedLatency|PagedLatency>",
                     "Checkout p99 above 2 s (eu)", "_unassigned_"):
        assert expected in text, expected
    announced = fake_slack.channel_by_name("incidents").messages
    assert any("opened by an alert with the *Paged by an alert* playbook" in all_text(m) for m in announced)
    assert await bot.deps.store.redis.zscore(keys.due(), f"esc|{incident_id}|0")
    types = [e.type for e in await bot.deps.store.timeline(incident_id)]
    assert types.count("alert_firing") == 2 and types[0] == "declared"
    assert not notes(fake_slack, channel), "the alerts it opened with are on the card, not noted again"
    assert declared_by_alert(await scrape(driver, bot)) - before == 1


async def test_concurrent_deliveries_to_two_replicas_open_one_incident_and_note_each_change_once(
        alerted, driver, fake_slack):
    first = alert(fp="aaaa", summary="Checkout p99 above 2 s")
    payload = body(first)

    async def burst(p: dict[str, Any], n: int = 8) -> None:
        answers = await asyncio.gather(*(send(driver, alerted[i % 2], p) for i in range(n)))
        assert {status for status, _ in answers} == {202}

    await burst(payload)
    await eventually(lambda: created_channels(fake_slack), timeout=10)
    group = await settled(alerted[0], payload)
    assert len(created_channels(fake_slack)) == 1
    channel = created_channels(fake_slack)[0]
    incident_id = (await alerted[0].deps.store.alert_group(group))["incident"]
    assert await alerted[0].deps.store.open_incident_ids() == {incident_id}
    assert not notes(fake_slack, channel)

    # A new alert joins the group: noted once, however many copies arrive.
    second = alert(fp="bbbb", summary="Checkout errors above 5 %", instance="b")
    await burst(body(first, second))
    await settled(alerted[0], payload)
    assert ["New alert firing" in all_text(m) for m in notes(fake_slack, channel)] == [True]
    assert "Checkout errors above 5 %" in all_text(notes(fake_slack, channel)[0])
    await eventually(lambda: "Checkout errors above 5 %" in all_text(card(fake_slack, channel)))

    # Both resolved: one "All alerts resolved", with a Resolve button.
    resolved = body({**first, "status": "resolved"}, {**second, "status": "resolved"})
    await burst(resolved)
    await settled(alerted[0], payload)
    said = [all_text(m) for m in notes(fake_slack, channel)]
    assert len(said) == 2 and "All alerts resolved" in said[1] and "Resolve" in said[1]
    await eventually(lambda: "None firing now" in all_text(card(fake_slack, channel)))
    incident = await alerted[0].deps.store.get(incident_id)
    assert incident.is_open, "the bot never resolves by itself"
    timeline = await alerted[0].deps.store.timeline(incident_id)
    assert [e.type for e in timeline].count("alert_resolved") == 2
    assert [e.type for e in timeline].count("alert_firing") == 2
    assert len(created_channels(fake_slack)) == 1


async def test_resolve_button_opens_the_resolve_modal_in_the_incident_channel_only(
        alerted, driver, fake_slack):
    bot = alerted[0]
    firing = alert(fp="cccc", summary="Checkout p99 above 2 s")
    await send(driver, bot, body(firing))
    channel = (await eventually(lambda: created_channels(fake_slack), timeout=10))[0]
    await settled(bot, body(firing))
    await send(driver, bot, body({**firing, "status": "resolved"}))
    note = (await eventually(lambda: notes(fake_slack, channel)))[0]
    opened = len(fake_slack.calls_to("views.open"))
    elsewhere = type(note)(**{**note.__dict__, "channel": "C_GENERAL"})
    await driver.click(elsewhere, "resolve", user="U_ALICE", url=bot.url)
    said = await eventually(lambda: fake_slack.response_posts)
    assert "incident channel" in said[0][1]["text"]
    assert len(fake_slack.calls_to("views.open")) == opened
    await driver.click(note, "resolve", user="U_ALICE", url=bot.url)
    view = (await fake_slack.wait_for("views.open", opened + 1))[-1].response["view"]
    assert view["callback_id"] == "resolve"
    await driver.submit_view(view, {"cause": "A slow query", "resolution": "Added an index"}, user="U_ALICE",
                             url=bot.url)
    incident_id = await bot.deps.store.incident_for_channel(channel)
    # A file's record exists from its upload URL on; its content only once uploaded.
    uploaded = await eventually(lambda: [f["content"] for f in fake_slack.files.values() if f.get("content")])
    rca = uploaded[0].decode()
    assert "Alert firing: PagedLatency — Checkout p99 above 2 s source (http://prometheus.test/" in rca
    assert "Alert resolved: PagedLatency" in rca and "An alert opened the incident (P2)" in rca
    assert "(declared by an alert)" in rca
    await eventually(lambda: "is resolved" in all_text(fake_slack.message(channel, note.ts)))
    assert not (await bot.deps.store.get(incident_id)).is_open

    # Alertmanager re-sends what the resolved incident showed: nothing opens. A new firing does.
    await send(driver, bot, body(firing))
    await settled(bot, body(firing))
    assert len(created_channels(fake_slack)) == 1
    await send(driver, bot, body({**firing, "startsAt": "2024-05-01T12:00:00Z"}))
    await eventually(lambda: len(created_channels(fake_slack)) == 2, timeout=10)
    await settled(bot, body(firing))
    assert len(await bot.deps.store.open_incident_ids()) == 1


# ---------------------------------------------------------------------------------------------- suggest

async def test_suggest_mode_posts_once_and_declaring_links_the_group(alerted, driver, fake_slack):
    bot = alerted[0]
    hinted = alert("Hinted", fp="dddd", summary="Queue depth rising", service="queue")
    payload = body(hinted, group='{}:{alertname="Hinted"}')
    await asyncio.gather(*(send(driver, alerted[i % 2], payload) for i in range(4)))
    group = await settled(bot, payload)
    message = (await eventually(lambda: suggestions(fake_slack)))[0]
    assert len(suggestions(fake_slack)) == 1 and "Suggested by an alert" in all_text(message)
    assert not fake_slack.calls_to("conversations.create")

    # A click on anything but the group's current suggestion is refused.
    forged = type(message)(**{**message.__dict__, "ts": "1.000001"})
    await driver.click(forged, "alert_declare", user="U_ALICE", url=bot.url)
    said = await eventually(lambda: fake_slack.response_posts)
    assert "out of date" in said[0][1]["text"]

    await driver.click(message, "alert_declare", user="U_ALICE", url=bot.url)
    view = (await fake_slack.wait_for("views.open"))[-1].response["view"]
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b.get("type") == "input"}
    assert initial["title"] == "Queue depth rising" and initial["service"] == "queue"
    await driver.submit_view(view, {"title": "Queue depth rising",
                                    "severity": {"type": "static_select", "selected_option": {"value": "P3"}}},
                             user="U_ALICE", url=bot.url)
    channel = (await eventually(lambda: created_channels(fake_slack), timeout=10))[0]
    incident_id = await eventually(lambda: bot.deps.store.incident_for_channel(channel))
    assert (await bot.deps.store.alert_group(group))["incident"] == incident_id
    await eventually(lambda: "Queue depth rising" in all_text(card(fake_slack, channel)))
    assert "<@U_ALICE> from an alert" in all_text(card(fake_slack, channel))
    assert "alert_firing" in [e.type for e in await bot.deps.store.timeline(incident_id)]

    # The group now follows the incident: a new alert is noted there, no new suggestion.
    await send(driver, bot, body(hinted, alert("Hinted", fp="eeee", summary="Queue consumers down"),
                                 group='{}:{alertname="Hinted"}'))
    note = (await eventually(lambda: notes(fake_slack, channel), timeout=10))[0]
    assert "Queue consumers down" in all_text(note)
    assert len(suggestions(fake_slack)) == 1 and len(created_channels(fake_slack)) == 1
    # The suggestion's button now says where the incident is.
    await driver.click(message, "alert_declare", user="U_BOB", url=bot.url)
    said = await eventually(lambda: [b for _, b in fake_slack.response_posts if f"<#{channel}>" in b["text"]])
    assert "already open" in said[0]["text"]


async def test_a_forged_declare_view_cannot_take_an_alert_group(alerted, driver, fake_slack):
    bot = alerted[0]
    payload = body(alert("Hinted", fp="ffff"), group='{}:{alertname="Hinted"}')
    await send(driver, bot, payload)
    group = await settled(bot, payload)
    await eventually(lambda: suggestions(fake_slack))
    meta = json.dumps({"playbook": "hinted", "g": group})
    view = {"id": "V_NOT_OURS", "type": "modal", "callback_id": "declare", "private_metadata": meta, "blocks": []}
    status, answer = await driver.submit_view(view, {"title": "Mine now", "severity": {
        "type": "static_select", "selected_option": {"value": "P3"}}}, url=bot.url)
    assert status == 200 and "no longer matches" in answer
    assert not fake_slack.calls_to("conversations.create")
    assert "incident" not in await bot.deps.store.alert_group(group)


def test_alert_events_read_well_on_the_timeline_and_in_the_rca():
    from bot.incident import Event

    ev = Event(type="alert_firing", actor="alert", at=0,
               data={"name": "<!channel>", "summary": "p99 *high*", "url": "http://p.test/g"})
    assert describe(ev, None) == "🔔 Alert firing: &lt;!channel&gt; — p99 *high* <http://p.test/g|source>"
    assert describe(ev, None, plain({})) == "🔔 Alert firing: <!channel> — p99 *high* source (http://p.test/g)"
