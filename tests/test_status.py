"""Status updates and the RCA end to end: signed requests in, Slack (and Statuspage) calls out."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import keys
from bot.errors import ConfigError
from bot.settings import load_settings
from bot.workflows.escalate import METADATA_TYPE
from tests.conftest import eventually
from tests.fake_statuspage import FakeStatuspage
from tests.flows import all_text, card, command_modal, declare, mrkdwn_texts
from tests.test_config import run_cli

ALICE, BOB = "U_ALICE", "U_BOB"
DAY_MS = 86_400_000
PAYLOAD = "<!channel> {{ 7*7 }} {% for %} <@U123>"
ROOT = Path(__file__).resolve().parent.parent


async def open_modal(driver: Any, bot: Any, fake: Any, channel: str, text: str, user: str = ALICE) -> dict[str, Any]:
    view, key = await command_modal(driver, bot, fake, text, channel, user)
    view["_response_key"] = key
    return view


def field(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def proposed(view: dict[str, Any]) -> str:
    return str(field(view, "text")["element"]["initial_value"])


def status_posts(fake: Any) -> list[Any]:
    return list(fake.channel_by_name("status").messages)


def echoes(fake: Any, channel: str) -> list[Any]:
    return [m for m in fake.channels[channel].messages if "status update" in m.text and "📣" in m.text]


async def post_status(driver: Any, bot: Any, fake: Any, channel: str, *, text: str | None = None, eta: str = "",
                      user: str = ALICE) -> dict[str, Any]:
    """Open the modal with `/incident status`, submit it (as proposed unless `text`), wait for the post."""
    view = await open_modal(driver, bot, fake, channel, "status", user)
    before = len(status_posts(fake))
    status, body = await driver.submit_view(view, {"text": proposed(view) if text is None else text, "eta": eta},
                                            user=user, url=bot.url)
    assert status == 200 and body == "", body
    await eventually(lambda: len(status_posts(fake)) > before)
    return view


async def resolve(driver: Any, bot: Any, fake: Any, channel: str, cause: str = "Missing index on orders",
                  resolution: str = "Added the index", user: str = BOB) -> None:
    view = await open_modal(driver, bot, fake, channel, "resolve", user)
    await driver.submit_view(view, {"cause": cause, "resolution": resolution}, user=user, url=bot.url)
    await fake.wait_for("files.completeUploadExternal", timeout=8)
    await eventually(lambda: any("Mark RCA reviewed" in all_text(m) for m in fake.channels[channel].messages))


def rca_file(fake: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(file record, content, completeUploadExternal args) of the last RCA posted."""
    call = fake.calls_to("files.completeUploadExternal")[-1]
    record = fake.files[call.args["files"][0]["id"]]
    return record, record["content"].decode(), call.args


def reminders(fake: Any, channel: str) -> list[Any]:
    return [m for m in fake.channels[channel].messages
            if (m.metadata or {}).get("event_type") == METADATA_TYPE
            and m.metadata["event_payload"]["id"].startswith("rca|")]


async def replies(fake: Any, key: str) -> list[dict[str, Any]]:
    return await fake.wait_for_response(key)


async def test_initial_then_progress_updates_go_to_status_channel_and_timeline(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Checkout is slow", service="checkout-api")
    view = await open_modal(driver, bot, fake_slack, inc.channel, "status")
    assert view["title"]["text"] == "Status update" and field(view, "eta")["optional"] is True
    assert proposed(view).startswith("[PERFORMANCE] checkout-api: slower than normal")
    assert "investigating" in proposed(view)
    # Left as proposed: filled in again with the ETA typed in the modal.
    await driver.submit_view(view, {"text": proposed(view), "eta": "30 minutes"}, user=ALICE, url=bot.url)
    posted = await eventually(lambda: status_posts(fake_slack))
    text = all_text(posted[0])
    assert text.startswith("[PERFORMANCE] checkout-api") and "within 30 minutes" in text and "Time: " in text
    echo = (await eventually(lambda: echoes(fake_slack, inc.channel)))[0]
    assert f"<@{ALICE}> posted the initial status update to <#{posted[0].channel}>" in all_text(echo)
    incident = await bot.deps.store.get(inc.incident_id)
    assert incident.status_updates == 1
    events = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "status_update"]
    assert events[0].data["kind"] == "initial" and events[0].data["text"].startswith("[PERFORMANCE]")
    assert events[0].actor == ALICE

    # The card's button opens the next one: progress, now that an update went out.
    before = len(fake_slack.calls_to("views.open"))
    await driver.click(card(fake_slack, inc.channel), "status_update", user=BOB, url=bot.url)
    view2 = (await fake_slack.wait_for("views.open", before + 1))[-1].response["view"]
    assert proposed(view2).startswith("[UPDATE] checkout-api") and "identified" in proposed(view2)
    edited = "Fix deployed & p99 < 500 ms\nNext update at 15:00"
    await driver.submit_view(view2, {"text": edited, "eta": "1 hour"}, user=BOB, url=bot.url)
    await eventually(lambda: len(status_posts(fake_slack)) == 2)
    assert status_posts(fake_slack)[1].text == "Fix deployed &amp; p99 &lt; 500 ms\nNext update at 15:00"
    await eventually(lambda: len(echoes(fake_slack, inc.channel)) == 2)
    events = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "status_update"]
    assert [(e.data["kind"], e.actor) for e in events] == [("initial", ALICE), ("progress", BOB)]
    assert events[1].data["text"] == edited
    assert (await bot.deps.store.get(inc.incident_id)).status_updates == 2

    # The same modal submitted again (a double click, another replica) posts nothing more.
    await driver.submit_view(view2, {"text": edited, "eta": ""}, user=BOB, url=bot.url)
    await asyncio.sleep(0.3)
    assert len(status_posts(fake_slack)) == 2
    assert (await bot.deps.store.get(inc.incident_id)).status_updates == 2
    # Shown on the timeline command like every other event.
    _, _, key = await driver.command("timeline", user=ALICE, channel=inc.channel, url=bot.url)
    shown = str((await replies(fake_slack, key))[0]["blocks"])
    assert "posted the progress status update: Fix deployed &amp; p99 &lt; 500 ms" in shown


async def test_empty_update_is_refused_in_the_modal(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Empty update")
    view = await open_modal(driver, bot, fake_slack, inc.channel, "status")
    status, body = await driver.submit_view(view, {"text": "  ", "eta": ""}, url=bot.url)
    assert status == 200 and "errors" in body and "text" in body
    assert not status_posts(fake_slack)


async def test_resolve_posts_resolved_update_and_the_rca_file(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick Orders are slow", service="orders-api",
                        description="p99 at 2.4 s")
    await post_status(driver, bot, fake_slack, inc.channel, eta="20 minutes")
    await driver.command("note Rolled back the 14:00 deploy", user=BOB, channel=inc.channel, url=bot.url)
    await eventually(lambda: [m for m in fake_slack.channels[inc.channel].messages if "noted" in m.text])
    await resolve(driver, bot, fake_slack, inc.channel, cause="Missing index on orders",
                  resolution="Added the index concurrently")
    resolved_post = await eventually(lambda: [m for m in status_posts(fake_slack) if "[RESOLVED]" in m.text])
    text = all_text(resolved_post[0])
    assert "Caused by: Missing index on orders" in text and "Resolved by: Added the index concurrently" in text
    assert "orders-api" in text

    incident = await bot.deps.store.get(inc.incident_id)
    record, content, args = rca_file(fake_slack)
    assert args["channel_id"] == inc.channel
    assert record["name"] == f"INC-{inc.incident_id}-rca.md"
    assert record["title"].startswith(f"RCA draft · INC-{inc.incident_id} · Orders are slow")
    assert f"RCA draft for INC-{inc.incident_id}" in args["initial_comment"]
    assert "cause: Missing index on orders" in args["initial_comment"]
    shared = next(m for m in fake_slack.channels[inc.channel].messages if m.files)
    assert shared.files[0]["name"] == f"INC-{inc.incident_id}-rca.md"
    for expected in (f"# RCA: INC-{inc.incident_id} · Orders are slow", "| Services affected | orders-api |",
                     "@declarer declared the incident (P2): Orders are slow", "@bob noted: Rolled back",
                     "@alice posted the initial status update: [PERFORMANCE] orders-api",
                     "@bob posted the resolved status update: [RESOLVED] orders-api",
                     "@bob resolved the incident. Cause: Missing index on orders",
                     "| Status updates posted | 2 |", "**Primary cause:** Missing index on orders",
                     "## 4. Remediation items", "## 5. Review questions", "p99 at 2.4 s"):
        assert expected in content, expected
    assert content.count("\n- T+") == len(await bot.deps.store.timeline(inc.incident_id)) - 1  # all but rca_posted

    # Due a day after the resolve: on the card, and scheduled once with the durable scheduler.
    assert incident.rca_status == "due" and incident.rca_due_at == incident.resolved_at + DAY_MS
    member = f"rca|{inc.incident_id}|0"
    assert await bot.deps.store.redis.zscore(keys.rca_due(), member) == incident.rca_due_at
    assert await bot.deps.store.redis.zcard(keys.due()) == 0  # nothing of the open incident is left
    await eventually(lambda: "*RCA*\nDue" in all_text(card(fake_slack, inc.channel)))
    assert "Post status update" not in all_text(card(fake_slack, inc.channel))
    types = [e.type for e in await bot.deps.store.timeline(inc.incident_id)]
    assert types[-3:] == ["resolved", "status_update", "rca_posted"]
    # A status update on a resolved incident is refused, in the modal that opened for it (nothing to submit).
    view, _ = await command_modal(driver, bot, fake_slack, "status", inc.channel, ALICE)
    assert "already resolved" in str(view["blocks"]) and "submit" not in view


async def test_unreviewed_rca_reminds_the_commander_once_then_is_marked_reviewed(make_bot, driver, fake_slack):
    bot = await make_bot(rca_due_after=1.0)
    inc = await declare(driver, bot, fake_slack, "race Remind me")
    await driver.command("commander <@U_LEAD>", user=ALICE, channel=inc.channel, url=bot.url, markup=True)
    await eventually(lambda: "*Commander*\n<@U_LEAD>" in all_text(card(fake_slack, inc.channel)))
    await resolve(driver, bot, fake_slack, inc.channel)
    reminder = (await eventually(lambda: reminders(fake_slack, inc.channel), timeout=4))[0]
    assert "<@U_LEAD>" in all_text(reminder) and "not marked reviewed" in all_text(reminder)
    await asyncio.sleep(1.0)
    assert len(reminders(fake_slack, inc.channel)) == 1
    assert await bot.deps.store.redis.zcard(keys.rca_due()) == 0
    overdue = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "rca_overdue"]
    assert len(overdue) == 1

    original = type(reminder)(**{**reminder.__dict__})
    review = next(m for m in fake_slack.channels[inc.channel].messages
                  if "Mark RCA reviewed" in all_text(m) and m.ts != reminder.ts)
    stale_review = type(review)(**{**review.__dict__})
    await driver.click(original, "rca_reviewed", user=BOB, url=bot.url)
    await eventually(lambda: "RCA marked reviewed by <@U_BOB>" in all_text(
        fake_slack.message(inc.channel, reminder.ts)))
    await eventually(lambda: "Reviewed by <@U_BOB>" in all_text(card(fake_slack, inc.channel)))
    assert any(f"<@{BOB}> marked the RCA" in m.text for m in fake_slack.channels[inc.channel].messages)
    # The review message posted with the file follows too; a stale copy still showing the button says so.
    await eventually(lambda: "RCA marked reviewed by <@U_BOB>" in all_text(fake_slack.message(inc.channel, review.ts)))
    await driver.click(stale_review, "rca_reviewed", user=ALICE, url=bot.url)
    said = await eventually(lambda: [b for k, b in fake_slack.response_posts
                                     if k.startswith("click-") and "already marked reviewed" in b.get("text", "")])
    assert "<@U_BOB>" in said[0]["text"]
    reviewed = [e for e in await bot.deps.store.timeline(inc.incident_id) if e.type == "rca_reviewed"]
    assert len(reviewed) == 1 and reviewed[0].actor == BOB


async def test_rca_reviewed_in_time_gets_no_reminder(make_bot, driver, fake_slack):
    bot = await make_bot(rca_due_after=1.5)
    inc = await declare(driver, bot, fake_slack, "race Reviewed in time")
    _, _, key = await driver.command("rca reviewed", user=ALICE, channel=inc.channel, url=bot.url)
    assert "no RCA to review yet" in (await replies(fake_slack, key))[0]["text"]
    await resolve(driver, bot, fake_slack, inc.channel)
    await driver.command("rca reviewed", user=ALICE, channel=inc.channel, url=bot.url)
    await eventually(lambda: [m for m in fake_slack.channels[inc.channel].messages
                              if f"<@{ALICE}> marked the RCA" in m.text])
    assert await bot.deps.store.redis.zcard(keys.rca_due()) == 0
    await asyncio.sleep(2.0)  # past the due time
    assert not reminders(fake_slack, inc.channel)
    _, _, key = await driver.command("rca reviewed", user=BOB, channel=inc.channel, url=bot.url)
    assert "already marked reviewed by <@U_ALICE>" in (await replies(fake_slack, key))[0]["text"]
    _, _, key = await driver.command("rca", user=BOB, channel=inc.channel, url=bot.url)
    assert "marked reviewed by <@U_ALICE>" in (await replies(fake_slack, key))[0]["text"]


async def test_rca_reminder_survives_a_restart(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False, rca_due_after=1.0)
    inc = await declare(driver, bot, fake_slack, "race Down when due")
    await resolve(driver, bot, fake_slack, inc.channel)
    await bot.stop()
    await asyncio.sleep(1.2)  # due while no replica runs
    await make_bot(rca_due_after=1.0)
    await make_bot(rca_due_after=1.0)
    await eventually(lambda: reminders(fake_slack, inc.channel), timeout=3)
    await asyncio.sleep(0.6)
    assert len(reminders(fake_slack, inc.channel)) == 1


async def test_typed_text_reaches_slack_escaped_and_is_never_evaluated(make_bot, driver, fake_slack):
    bot = await make_bot()
    inc = await declare(driver, bot, fake_slack, "quick x", title=f"T {PAYLOAD}", service=f"S {PAYLOAD}",
                        description=f"D {PAYLOAD}")
    await driver.command(f"note N {PAYLOAD}", user=ALICE, channel=inc.channel, url=bot.url)
    await eventually(lambda: [m for m in fake_slack.channels[inc.channel].messages if "noted" in m.text])
    await post_status(driver, bot, fake_slack, inc.channel, eta=f"E {PAYLOAD}")  # proposed text, typed ETA
    await post_status(driver, bot, fake_slack, inc.channel, text=f"U {PAYLOAD}")  # typed text
    await resolve(driver, bot, fake_slack, inc.channel, cause=f"C {PAYLOAD}", resolution=f"R {PAYLOAD}")
    await eventually(lambda: [m for m in status_posts(fake_slack) if "[RESOLVED]" in m.text])

    texts: list[str] = []
    for method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        for call in fake_slack.calls_to(method):
            texts += mrkdwn_texts(call.args)
    for call in fake_slack.calls_to("views.open") + fake_slack.calls_to("views.update"):
        texts += mrkdwn_texts({"blocks": call.args["view"]["blocks"]})
    texts += [str(c.args.get("initial_comment", "")) for c in fake_slack.calls_to("files.completeUploadExternal")]
    texts += [str(b.get("text", "")) for _, b in fake_slack.response_posts]
    joined = "\n".join(texts)
    assert "<!channel>" not in joined and "<@U123>" not in joined
    assert "&gt; 49" not in joined  # `{{ 7*7 }}` is never evaluated
    for label in ("T", "S", "N", "E", "U", "C", "R"):
        assert f"{label} &lt;!channel&gt; {{{{ 7*7 }}}} {{% for %}} &lt;@U123&gt;" in joined, label
    _, content, _ = rca_file(fake_slack)
    # The RCA file is a document, not mrkdwn: the text is kept as typed, and still not evaluated.
    for label in ("T", "S", "C", "R"):
        assert f"{label} {PAYLOAD}" in content, label
    # Evaluated, the payload would read "… 49 …"; the clock's own digits must not matter.
    assert "<!channel> 49" not in content and "{{ 7*7 }}" in content


@pytest.fixture
async def statuspage() -> AsyncIterator[FakeStatuspage]:
    fake = FakeStatuspage(api_key="sp-key", page_id="PAGE1")
    await fake.start()
    yield fake
    await fake.stop()


async def test_updates_create_and_update_the_statuspage_incident(make_bot, driver, fake_slack, statuspage):
    bot = await make_bot(statuspage_api_key="sp-key", statuspage_page_id="PAGE1",
                         statuspage_api_url=statuspage.url)
    inc = await declare(driver, bot, fake_slack, "quick Public one", service="checkout-api")
    await post_status(driver, bot, fake_slack, inc.channel, eta="30 minutes")
    await eventually(lambda: statuspage.incidents)
    created = statuspage.requests[0]
    assert created.method == "POST" and created.path == "/v1/pages/PAGE1/incidents"
    assert created.authorization == "OAuth sp-key"
    assert created.body["incident"]["name"] == "[PERFORMANCE] checkout-api: slower than normal"
    assert created.body["incident"]["status"] == "investigating"
    assert "within 30 minutes" in created.body["incident"]["body"]
    await eventually(lambda: bot.deps.store.get(inc.incident_id))
    assert (await eventually(lambda: _page_id(bot, inc.incident_id))) == "sp0001"

    await post_status(driver, bot, fake_slack, inc.channel, text="Fix deployed; p99 falling")
    await eventually(lambda: len(statuspage.requests) == 2)
    assert statuspage.requests[1].method == "PATCH"
    assert statuspage.requests[1].path == "/v1/pages/PAGE1/incidents/sp0001"
    assert statuspage.requests[1].body == {"incident": {"status": "identified", "body": "Fix deployed; p99 falling"}}

    await resolve(driver, bot, fake_slack, inc.channel, cause="Cold cache", resolution="Warmed it")
    await eventually(lambda: len(statuspage.requests) == 3)
    page = statuspage.incidents["sp0001"]
    assert page["status"] == "resolved" and "Caused by: Cold cache" in page["incident_updates"][0]["body"]
    assert [u["status"] for u in page["incident_updates"]] == ["resolved", "identified", "investigating"]
    assert all(r.authorization == "OAuth sp-key" for r in statuspage.requests)


async def _page_id(bot: Any, incident_id: str) -> str:
    return (await bot.deps.store.get(incident_id)).statuspage_id


async def test_statuspage_failure_is_reported_and_slack_still_gets_the_update(make_bot, driver, fake_slack,
                                                                              statuspage):
    bot = await make_bot(statuspage_api_key="sp-key", statuspage_page_id="PAGE1",
                         statuspage_api_url=statuspage.url)
    inc = await declare(driver, bot, fake_slack, "quick Page down")
    statuspage.fail_next(503)
    view = await post_status(driver, bot, fake_slack, inc.channel)
    said = await replies(fake_slack, view["_response_key"])
    assert "Statuspage: Statuspage answered 503" in said[0]["text"] and "recorded" in said[0]["text"]
    await eventually(lambda: echoes(fake_slack, inc.channel))
    assert not statuspage.incidents
    # Never shown on the page, so its resolve is not announced there either.
    await resolve(driver, bot, fake_slack, inc.channel)
    await eventually(lambda: [m for m in status_posts(fake_slack) if "[RESOLVED]" in m.text])
    assert len(statuspage.requests) == 1


async def test_playbook_template_is_used_end_to_end(make_bot, driver, fake_slack, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "acme-initial.j2").write_text("[ACME] {{ service }} is slow, we are on it.\nTime: {{ time }}\n")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    text = (ROOT / "tests" / "playbooks" / "quick.md").read_text()
    (playbooks / "acme.md").write_text(
        text.replace("key: quick", "key: acme").replace("severity: P2\n", "severity: P2\ntemplates:\n"
                                                                          "  initial: acme-initial.j2\n"))
    bot = await make_bot(playbooks=playbooks, templates_dir=templates)
    inc = await declare(driver, bot, fake_slack, "acme Branded", service="<!here> shop")
    view = await open_modal(driver, bot, fake_slack, inc.channel, "status")
    assert proposed(view).startswith("[ACME] <!here> shop is slow")  # plain text in the editor
    await driver.submit_view(view, {"text": proposed(view), "eta": ""}, url=bot.url)
    posted = await eventually(lambda: status_posts(fake_slack))
    assert posted[0].text.startswith("[ACME] &lt;!here&gt; shop is slow, we are on it.")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"rca_due_after": 0}, "setting RCA_DUE_AFTER"),
    ({"statuspage_api_url": "ftp://x"}, "setting STATUSPAGE_API_URL"),
])
def test_bad_status_settings_stop_with_one_line(overrides, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s", **overrides)
    assert expected in info.value.user_message


def test_half_configured_statuspage_fails_check():
    result = run_cli("check", env={"STATUSPAGE_API_KEY": "k"})
    assert result.returncode != 0 and "setting STATUSPAGE_PAGE_ID" in result.stderr


async def test_resolved_template_failing_on_real_data_still_posts_the_rca(make_bot, driver, fake_slack, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    # Fine for `check`'s sample (a long cause), broken for a one-word cause.
    (templates / "status-resolved.j2").write_text("[RESOLVED] {{ cause.split()[3] }}\n")
    bot = await make_bot(templates_dir=templates)
    inc = await declare(driver, bot, fake_slack, "quick Short cause")
    view = await open_modal(driver, bot, fake_slack, inc.channel, "resolve", BOB)
    await driver.submit_view(view, {"cause": "Cache", "resolution": "Warmed"}, user=BOB, url=bot.url)
    said = await replies(fake_slack, view["_response_key"])
    assert "resolved template" in said[0]["text"] and "status-resolved.j2, line 1" in said[0]["text"]
    await fake_slack.wait_for("files.completeUploadExternal")
    assert not status_posts(fake_slack)
