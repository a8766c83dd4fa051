"""End to end with a real Alertmanager (Debian package prometheus-alertmanager): alerts pushed through its API
reach the bot through its webhook receiver, with its grouping, re-sends and resolved notifications."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.embedded_redis import free_port, terminate
from tests.conftest import eventually
from tests.flows import all_text, card
from tests.test_alerts import TOKEN, created_channels, notes

BINARY = "prometheus-alertmanager"
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = "1s", "2s", "4s"


class Alertmanager:
    """One Alertmanager on loopback, without clustering, routing every alert to the bot's webhook."""

    def __init__(self, webhook: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ib-alertmanager-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "am.yml").write_text(f"""
route:
  receiver: bot
  group_by: [alertname]
  group_wait: {GROUP_WAIT}
  group_interval: {GROUP_INTERVAL}
  repeat_interval: {REPEAT_INTERVAL}
receivers:
  - name: bot
    webhook_configs:
      - url: {webhook}
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
""")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which(BINARY)
        if binary is None:
            pytest.fail(f"{BINARY} is not installed: `apt-get install -y prometheus-alertmanager` (.ci/run does)")
        self.process = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'am.yml'}", f"--storage.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        terminate(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
async def alertmanager(make_bot) -> AsyncIterator[tuple[Any, Alertmanager, aiohttp.ClientSession]]:
    bot = await make_bot(alert_webhook_token=TOKEN)
    am = Alertmanager(bot.url + "/alerts/alertmanager")
    session = aiohttp.ClientSession()
    try:
        am.start()

        async def ready() -> bool:
            assert am.process is not None and am.process.poll() is None, "alertmanager exited"
            try:
                async with session.get(am.url + "/-/ready") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, timeout=20, interval=0.1)
        yield bot, am, session
    finally:
        await session.close()
        am.close()


def pushed(name: str, *, summary: str, resolved: bool = False, **labels: str) -> dict[str, Any]:
    """An alert as POST /api/v2/alerts takes it; an end time in the past resolves it."""
    alert: dict[str, Any] = {"labels": {"alertname": name, "service": "checkout", **labels},
                             "annotations": {"summary": summary},
                             "generatorURL": f"http://prometheus.test/graph?g0.expr={name}"}
    if resolved:
        alert["endsAt"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return alert


async def push(session: aiohttp.ClientSession, am: Alertmanager, *alerts: dict[str, Any]) -> None:
    async with session.post(am.url + "/api/v2/alerts", json=list(alerts)) as resp:
        assert resp.status == 200, await resp.text()


async def deliveries(bot: Any, group: str) -> int:
    return int((await bot.deps.store.alert_group(group)).get("seq", 0))


async def test_alertmanager_declares_dedups_resends_and_notes_the_resolution(alertmanager, driver, fake_slack):
    bot, am, session = alertmanager
    store = bot.deps.store
    first = pushed("PagedLatency", summary="Checkout p99 above 2 s", instance="a")
    await push(session, am, first)

    # group_wait later, one incident: channel, card with the alert, escalation scheduled.
    channel = (await eventually(lambda: created_channels(fake_slack), timeout=15))[0]
    incident_id = await eventually(lambda: store.incident_for_channel(channel))
    group = (await store.get(incident_id)).alert_group
    await eventually(lambda: "Checkout p99 above 2 s" in all_text(card(fake_slack, channel)), timeout=5)
    assert "<http://prometheus.test/graph?g0.expr=PagedLatency|PagedLatency>" in all_text(card(fake_slack, channel))

    # Alertmanager re-sends the unchanged group (repeat_interval): nothing new opens or is noted.
    seen = await deliveries(bot, group)
    await eventually(lambda: _more(bot, group, seen), timeout=15)
    await eventually(lambda: _processed(bot, group))
    assert len(created_channels(fake_slack)) == 1 and not notes(fake_slack, channel)

    # A second alert in the same group: noted once, even as the group keeps being re-sent.
    second = pushed("PagedLatency", summary="Checkout errors above 5 %", instance="b")
    await push(session, am, first, second)
    note = (await eventually(lambda: notes(fake_slack, channel), timeout=15))[0]
    assert "Checkout errors above 5 %" in all_text(note)
    seen = await deliveries(bot, group)
    await eventually(lambda: _more(bot, group, seen), timeout=15)
    await eventually(lambda: _processed(bot, group))
    assert len(notes(fake_slack, channel)) == 1 and len(created_channels(fake_slack)) == 1

    # Both end: one "All alerts resolved" note with a Resolve button; the incident stays open for people.
    await push(session, am, pushed("PagedLatency", summary="Checkout p99 above 2 s", instance="a", resolved=True),
               pushed("PagedLatency", summary="Checkout errors above 5 %", instance="b", resolved=True))
    resolved = await eventually(lambda: [m for m in notes(fake_slack, channel) if "All alerts resolved" in m.text],
                                timeout=15)
    await eventually(lambda: _processed(bot, group))
    assert len(resolved) == 1 and "Resolve" in all_text(resolved[0])
    assert (await store.get(incident_id)).is_open
    types = [e.type for e in await store.timeline(incident_id)]
    assert types.count("alert_firing") == 2 and types.count("alert_resolved") == 2

    # People resolve it from the note; the group firing again opens a new incident.
    opened = len(fake_slack.calls_to("views.open"))
    await driver.click(resolved[0], "resolve", user="U_ALICE", url=bot.url)
    view = (await fake_slack.wait_for("views.open", opened + 1))[-1].response["view"]
    await driver.submit_view(view, {"cause": "A slow query", "resolution": "Added an index"}, user="U_ALICE",
                             url=bot.url)
    await eventually(lambda: _closed(bot, incident_id))
    await push(session, am, pushed("PagedLatency", summary="Checkout p99 above 2 s again", instance="a"))
    await eventually(lambda: len(created_channels(fake_slack)) == 2, timeout=15)
    assert (await store.alert_group(group))["incident"] != incident_id


async def _more(bot: Any, group: str, than: int) -> bool:
    return await deliveries(bot, group) > than


async def _processed(bot: Any, group: str) -> bool:
    state = await bot.deps.store.alert_group(group)
    return not state.get("queued") and not await bot.deps.store.alert_inbox(group)


async def _closed(bot: Any, incident_id: str) -> bool:
    return not (await bot.deps.store.get(incident_id)).is_open
