"""Self-test of the fake Slack, driven by the real slack-sdk AsyncWebClient."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from slackfake import FakeSlack, validate_blocks


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    f = FakeSlack()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(base_url=fake.url, token="xoxb-test")


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


@pytest.mark.asyncio
async def test_channel_lifecycle(fake: FakeSlack, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["user_id"] == "U_BOT" and auth["team_id"] == "T_TEST"

    created = await client.conversations_create(name="inc-1-db", is_private=False)
    cid = created["channel"]["id"]
    ch = fake.channels[cid]
    assert fake.channel_by_name("inc-1-db") is ch and ch.members == {"U_BOT"}

    await client.conversations_invite(channel=cid, users="U_ALICE,U_BOB")
    assert {"U_ALICE", "U_BOB"} <= ch.members
    assert await error_of(client.conversations_invite(channel=cid, users="U_ALICE")) == "already_in_channel"
    assert await error_of(client.conversations_invite(channel=cid, users="U_NOBODY")) == "user_not_found"
    assert await error_of(client.conversations_invite(channel=cid, users="U_BOT")) == "cant_invite_self"
    assert await error_of(client.conversations_invite(channel="C_NOPE", users="U_BOB")) == "channel_not_found"

    await client.conversations_setTopic(channel=cid, topic="P1 | DB down")
    assert ch.topic == "P1 | DB down"
    assert await error_of(client.conversations_setTopic(channel=cid, topic="x" * 251)) == "too_long"

    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Incident"}}, section("*DB* down")]
    metadata = {"event_type": "incident", "event_payload": {"id": "INC-1"}}
    posted = await client.chat_postMessage(channel="#inc-1-db", text="DB down", blocks=blocks, metadata=metadata)
    assert posted["channel"] == cid
    ts = posted["ts"]
    second = await client.chat_postMessage(channel=cid, text="second")
    assert float(second["ts"]) > float(ts)

    await client.chat_update(channel=cid, ts=ts, text="DB recovered", blocks=[section("*DB* recovered")])
    msg = fake.message(cid, ts)
    assert msg.text == "DB recovered" and msg.blocks[0]["text"]["text"] == "*DB* recovered"
    assert msg.metadata == metadata and msg.updated_count == 1
    assert [v["text"] for v in msg.versions] == ["DB down", "DB recovered"]
    assert await error_of(client.chat_update(channel=cid, ts="1.000000", text="x")) == "message_not_found"

    await client.pins_add(channel=cid, timestamp=ts)
    assert ch.pins == [ts]
    assert await error_of(client.pins_add(channel=cid, timestamp=ts)) == "already_pinned"
    pins = await client.pins_list(channel=cid)
    assert pins["items"][0]["message"]["ts"] == ts

    link = await client.chat_getPermalink(channel=cid, message_ts=ts)
    assert link["permalink"] == f"https://test.slack.com/archives/{cid}/p{ts.replace('.', '')}"

    history = await client.conversations_history(channel=cid, include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [second["ts"], ts]
    assert history["messages"][1]["metadata"] == metadata

    user = await client.users_info(user="U_ALICE")
    assert user["user"]["tz"] == "UTC" and user["user"]["profile"]["display_name"] == "alice"
    fake.usergroups["S_DB"] = ["U_ALICE"]
    assert (await client.usergroups_users_list(usergroup="S_DB"))["users"] == ["U_ALICE"]
    await client.bookmarks_add(channel_id=cid, title="Runbook", type="link", link="https://example.com/rb")
    assert ch.bookmarks[0]["title"] == "Runbook"

    assert [c.method for c in fake.calls][:3] == ["auth.test", "conversations.create", "conversations.invite"]
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == blocks
    assert fake.calls_to("conversations.create")[0].token == "xoxb-test"


@pytest.mark.asyncio
async def test_channel_name_rules(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.conversations_create(name="inc-taken")
    assert await error_of(client.conversations_create(name="inc-taken")) == "name_taken"
    assert await error_of(client.conversations_create(name="Has Spaces")) == "invalid_name_specials"
    assert await error_of(client.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert await error_of(client.conversations_create(name="")) == "invalid_name_required"
    private = await client.conversations_create(name="secret", is_private=True)
    assert fake.channels[private["channel"]["id"]].is_private


@pytest.mark.asyncio
async def test_private_channel_needs_membership(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("hidden", is_private=True, bot_member=False)
    assert await error_of(client.chat_postMessage(channel="#hidden", text="hi")) == "not_in_channel"
    public = fake.add_channel("public", bot_member=False)
    await client.chat_postMessage(channel=public.id, text="chat:write.public allows this")
    assert await error_of(client.pins_add(channel=public.id, timestamp=public.messages[0].ts)) == "not_in_channel"


@pytest.mark.asyncio
async def test_block_limits(fake: FakeSlack, client: AsyncWebClient) -> None:
    cid = fake.add_channel("blocks").id
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=cid, text="many", blocks=[section(f"b{i}") for i in range(51)])
    assert info.value.response["error"] == "invalid_blocks"
    assert "50" in info.value.response["response_metadata"]["messages"][0]
    assert not fake.channels[cid].messages
    await client.chat_postMessage(channel=cid, text="fifty", blocks=[section(f"b{i}") for i in range(50)])

    # api_call directly: chat_postMessage itself warns about a missing text (an error under filterwarnings).
    assert await error_of(client.api_call("chat.postMessage", json={"channel": cid})) == "no_text"
    assert await error_of(client.chat_postMessage(channel=cid, text="x" * 40_001)) == "msg_too_long"
    big = [section("x" * 3000) for _ in range(5)]
    assert await error_of(client.chat_postMessage(channel=cid, text="big", blocks=big)) == "msg_blocks_too_long"

    assert validate_blocks([section("ok")]) is None
    assert "3000" in (validate_blocks([section("x" * 3001)]) or "")
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "Title"}}
    assert "plain_text" in (validate_blocks([header]) or "")
    button = {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "action_id": "a"}
    assert "75" in (validate_blocks([{"type": "actions", "elements": [button]}]) or "")
    dup = [section("a", block_id="same"), section("b", block_id="same")]
    assert "unique" in (validate_blocks(dup) or "")
    assert "unknown block type" in (validate_blocks([{"type": "sectoin"}]) or "")
    assert "text or fields" in (validate_blocks([{"type": "section"}]) or "")
    assert validate_blocks([section(f"b{i}") for i in range(100)], limit=100) is None
    boxes = {"type": "checkboxes", "action_id": "c",
             "options": [{"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(11)]}
    assert "10" in (validate_blocks([{"type": "actions", "elements": [boxes]}]) or "")


def test_block_kit_checks_from_slack_sdk_and_by_hand() -> None:
    def option(value: str, text: str = "o") -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": text}, "value": value}

    def actions(*elements: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "actions", "elements": list(elements)}]

    # slack_sdk's validators: option value length, overflow size, date format, required fields.
    select = {"type": "static_select", "action_id": "s", "options": [option("v" * 151)]}
    assert "150" in (validate_blocks(actions(select)) or "")
    overflow = {"type": "overflow", "action_id": "o", "options": [option(str(i)) for i in range(6)]}
    assert "between 1 and 5" in (validate_blocks(actions(overflow)) or "")
    date = {"type": "datepicker", "action_id": "d", "initial_date": "2024-1-1"}
    assert "YYYY-MM-DD" in (validate_blocks(actions(date)) or "")
    assert "alt_text" in (validate_blocks([{"type": "image", "image_url": "https://example.com/a.png"}]) or "")
    # By hand: what slack_sdk does not check.
    select = {"type": "static_select", "action_id": "s", "options": [option("a")], "initial_option": option("b")}
    assert "initial_option" in (validate_blocks(actions(select)) or "")
    button = {"type": "button", "text": {"type": "plain_text", "text": "b"}, "action_id": "same"}
    assert "unique" in (validate_blocks(actions(button, button)) or "")
    label = {"type": "plain_text", "text": "Label"}
    assert "not allowed" in (validate_blocks([{"type": "input", "label": label, "element": button}]) or "")
    mrkdwn = {"type": "static_select", "action_id": "s", "options": [{"text": {"type": "mrkdwn", "text": "*o*"},
                                                                        "value": "o"}]}
    assert "plain_text" in (validate_blocks(actions(mrkdwn)) or "")


@pytest.mark.asyncio
async def test_rate_limit_is_retried_by_the_sdk(fake: FakeSlack) -> None:
    client = AsyncWebClient(base_url=fake.url, token="xoxb-test",
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    fake.rate_limit("chat.postMessage", retry_after=0)
    posted = await client.chat_postMessage(channel="#general", text="eventually")
    assert posted["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert len(fake.channels[posted["channel"]].messages) == 1


@pytest.mark.asyncio
async def test_injected_failure_and_wait_for(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("conversations.create", "restricted_action", times=2)
    for _ in range(2):
        assert await error_of(client.conversations_create(name="nope")) == "restricted_action"
    await client.conversations_create(name="nope")
    calls = await fake.wait_for("conversations.create", 3)
    assert [c.error for c in calls] == ["restricted_action", "restricted_action", None]
    assert len(await fake.wait_for("conversations.create", where=lambda c: c.ok)) == 1
    with pytest.raises(AssertionError, match="conversations.create"):
        await fake.wait_for("views.open", timeout=0.05)
    assert await error_of(client.api_call("made.up")) == "unknown_method"


@pytest.mark.asyncio
async def test_files_upload_v2(fake: FakeSlack, client: AsyncWebClient) -> None:
    cid = fake.add_channel("rca").id
    result = await client.files_upload_v2(channel=cid, content="# RCA\nroot cause", filename="rca.md",
                                          title="RCA INC-1", initial_comment="Here is the RCA")
    fid = result["file"]["id"]
    assert fake.files[fid]["content"] == b"# RCA\nroot cause"
    assert result["file"]["title"] == "RCA INC-1"
    msg = fake.channels[cid].messages[-1]
    assert msg.text == "Here is the RCA" and msg.files[0]["id"] == fid
    info = await client.files_info(file=fid)
    assert cid in info["file"]["channels"]


@pytest.mark.asyncio
async def test_views(fake: FakeSlack, client: AsyncWebClient) -> None:
    view = {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"},
            "submit": {"type": "plain_text", "text": "Go"},
            "blocks": [{"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
                        "element": {"type": "plain_text_input", "action_id": "v"}}]}
    opened = await client.views_open(trigger_id="trig-1", view=view)
    vid = opened["view"]["id"]
    assert fake.views[vid]["callback_id"] == "declare"
    assert await error_of(client.views_open(trigger_id="trig-1", view=view)) == "expired_trigger_id"
    long_title = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    assert await error_of(client.views_open(trigger_id="trig-2", view=long_title)) == "invalid_arguments"
    long_metadata = {**view, "private_metadata": "m" * 3001}
    assert await error_of(client.views_open(trigger_id="trig-3", view=long_metadata)) == "invalid_arguments"
    bad_block = {**view, "blocks": [{"type": "sectoin"}]}
    assert await error_of(client.views_open(trigger_id="trig-4", view=bad_block)) == "invalid_blocks"
    updated = await client.views_update(view_id=vid, view={**view, "private_metadata": "m"},
                                        hash=opened["view"]["hash"])
    assert updated["view"]["id"] == vid and fake.views[vid]["private_metadata"] == "m"
    assert await error_of(client.views_update(view_id=vid, view=view, hash="stale")) == "hash_conflict"
    stale = fake.new_trigger_id()
    fake._issued_triggers[stale] = time.monotonic() - 10
    assert await error_of(client.views_open(trigger_id=stale, view=view)) == "expired_trigger_id"


@pytest.mark.asyncio
async def test_response_url(fake: FakeSlack) -> None:
    url = fake.response_url("k1")
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"text": "done", "response_type": "ephemeral"}) as resp:
            assert resp.status == 200 and await resp.text() == "ok"
        async with session.post(url, json={"blocks": [{"type": "sectoin"}]}) as resp:
            assert resp.status == 400
    assert fake.response_posts == [("k1", {"text": "done", "response_type": "ephemeral"})]
    assert [r.error for r in fake.response_urls] == [None, "invalid_blocks"]


@pytest.mark.asyncio
async def test_auth_and_latency() -> None:
    async with FakeSlack(latency=0.05) as fake:
        unauth = AsyncWebClient(base_url=fake.url)
        assert await error_of(unauth.auth_test()) == "not_authed"
        started = time.monotonic()
        await AsyncWebClient(base_url=fake.url, token="xoxb-test").auth_test()
        assert time.monotonic() - started >= 0.05


@pytest.mark.asyncio
async def test_form_body_and_token_field(fake: FakeSlack) -> None:
    cid = fake.add_channel("form").id
    form = {"token": "xoxb-form", "channel": cid, "text": "hi", "blocks": '[{"type": "divider"}]'}
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.url + "chat.postMessage", data=form) as resp:
            body = await resp.json()
    assert body["ok"], body
    call = fake.calls_to("chat.postMessage")[0]
    assert call.token == "xoxb-form" and "token" not in call.args
    assert call.args["blocks"] == [{"type": "divider"}]
    assert fake.message(cid, body["ts"]).blocks == [{"type": "divider"}]
