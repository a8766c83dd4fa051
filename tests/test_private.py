"""Private incidents, and the rule that only an incident channel's members may change the incident."""

from __future__ import annotations

from tests.conftest import eventually
from tests.flows import all_text, declare, modal_values, open_declare_modal, phase_message
from tests.test_status import resolve

BOB = "U_BOB"  # not a responder of the quick playbook, so not in its incident channels


async def test_private_incident_is_announced_without_details_and_kept_off_the_status_channel(
        make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False)
    view = await open_declare_modal(driver, bot, fake_slack, "quick --private Payroll export leaking")
    private = next(b for b in view["blocks"] if b.get("block_id") == "private")
    assert private["element"]["initial_options"], "--private ticks the box"
    title = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "Payroll export leaking"
    values = {**modal_values("Payroll export leaking"),
              "private": {"type": "checkboxes", "selected_options": [{"value": "private"}]}}
    await driver.submit_view(view, values, url=bot.url)
    created = (await fake_slack.wait_for("conversations.create"))[0]
    assert created.args.get("is_private") in (True, "true", "1")
    channel = created.response["channel"]["id"]
    assert fake_slack.channels[channel].is_private
    await eventually(lambda: phase_message(fake_slack, channel, 0))
    incidents = fake_slack.channel_by_name("incidents")
    announced = await eventually(lambda: incidents.messages and all_text(incidents.messages[0]))
    assert "private incident" in announced and "Payroll" not in announced and channel not in announced
    await resolve(driver, bot, fake_slack, channel, user="U_DECLARER")
    await eventually(lambda: "resolved" in all_text(incidents.messages[0]))
    assert all("Payroll" not in all_text(m) for m in incidents.messages)
    assert not fake_slack.channel_by_name("status").messages, "nobody in it posted a status update"


async def test_only_members_change_an_incident_when_restricted(make_bot, driver, fake_slack):
    bot = await make_bot(run_scheduler=False, restrict_to_members=True)
    inc = await declare(driver, bot, fake_slack, "quick Members only")
    assert BOB not in fake_slack.channels[inc.channel].members
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:0", user=BOB, url=bot.url)
    said = await eventually(lambda: [b for k, b in fake_slack.response_posts if k.startswith("click-")])
    assert "Only members" in said[0]["text"]
    assert (await bot.deps.store.get(inc.incident_id)).steps == {}
    await driver.click(phase_message(fake_slack, inc.channel, 0), "step:0:0", user="U_DECLARER", url=bot.url)
    await eventually(lambda: "✅" in all_text(phase_message(fake_slack, inc.channel, 0)))
