"""Acks before follow-up work (bot/ackfirst.py): in a burst, the work after an ack waits until no request is
waiting for its own ack, or until its deadline; nothing is dropped. Garbage collections: bot/collector.py."""

from __future__ import annotations

import asyncio
import time

from bot import ackfirst
from bot.ackfirst import COST_S, MARGIN_S, SLICE, AckFirst, Patience
from bot.collector import GAP_S, LONGEST_WITHOUT_S, QUIET_S, Quiet
from tests.conftest import eventually
from tests.flows import command_modal, declare


async def _released(turns: list[asyncio.Task[None]]) -> list[int]:
    await asyncio.sleep(0)
    return [i for i, t in enumerate(turns) if t.done()]


async def test_work_after_an_ack_waits_for_the_requests_still_waiting_for_theirs():
    gate = AckFirst(quiet_s=0.01)
    order: list[str] = []

    async def work(name: str, ticket: ackfirst.Ticket) -> None:
        await gate.turn(ticket, Patience(wait_s=30, limit_s=30))
        order.append(name)

    with gate.request() as slow:  # a request whose ack has not come yet
        with gate.request() as a:
            pass  # acked
        with gate.request() as b:
            pass
        tasks = [asyncio.create_task(work("a", a)), asyncio.create_task(work("b", b))]
        for _ in range(20):
            await asyncio.sleep(0.005)
            assert order == [], "work ran while a request still waited for its ack"
        assert gate.waiting == 1
    assert slow.answered and gate.waiting == 0
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert order == ["a", "b"], "released in the order the requests came"


async def test_work_starts_before_its_limit_when_the_burst_does_not_end():
    gate = AckFirst(quiet_s=0.01)
    with gate.request():  # never acked while the work waits
        with gate.request() as modal:
            pass
        with gate.request() as redraw:
            pass
        loop = asyncio.get_running_loop()
        redraw_done = asyncio.create_task(gate.turn(redraw, Patience(wait_s=30, limit_s=60)))
        # Its wait is up long before its limit, but a request still waits for its ack: the limit decides.
        await asyncio.wait_for(gate.turn(modal, Patience(wait_s=0.01, limit_s=0.4)), 10)
        started = loop.time() - modal.arrived
        assert 0.4 - MARGIN_S - 0.01 <= started < 0.4 + 0.2
        # The nearer limit went first, though its request came earlier and the other waits on.
        assert not redraw_done.done()
        redraw_done.cancel()


async def test_a_long_queue_is_let_go_early_enough_for_its_last_to_start_in_time():
    """Work let go holds the loop COST_S each: the queue starts draining that much before its limits."""
    gate = AckFirst(quiet_s=0.01)
    n = 400
    loop = asyncio.get_running_loop()
    with gate.request():  # never acked while the work waits
        tickets = []
        for _ in range(n):
            with gate.request() as t:
                tickets.append(t)
        first = min(t.arrived for t in tickets)
        started: list[float] = []

        async def work(ticket: ackfirst.Ticket) -> None:
            await gate.turn(ticket, Patience(wait_s=30, limit_s=0.5))
            started.append(loop.time())

        tasks = [asyncio.create_task(work(t)) for t in tickets]
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    drain = n * COST_S  # 0.16 s
    assert min(started) - first >= 0.5 - drain - MARGIN_S - 0.01, "let go before its time, in a burst"
    # Half the drain time is room for a busy loop's late wake-up; a queue let go only by its limit (0.45 s here,
    # the pieces ahead of the last not counted) would still fail this.
    assert min(started) - first < 0.5 - drain / 2, "the first of the queue started too late for the last to be in time"


async def test_work_whose_wait_is_up_goes_while_no_request_waits_for_its_ack():
    """Requests keep coming, each acked at once: the burst never ends, yet the work goes soon after its wait."""
    gate = AckFirst(quiet_s=0.05)
    loop = asyncio.get_running_loop()
    with gate.request() as ticket:
        pass
    task = asyncio.create_task(gate.turn(ticket, Patience(wait_s=0.1, limit_s=30)))
    while not task.done() and loop.time() - ticket.arrived < 5:
        with gate.request():
            pass  # acked at once
        await asyncio.sleep(0.005)
    assert task.done()
    assert 0.1 <= loop.time() - ticket.arrived < 5


async def test_the_rest_of_the_work_waits_again_once_its_urgent_part_is_done():
    """A modal's work starts by its short limit in a burst that goes on; once the modal is open, the rest of
    its work (`then`) waits for the burst again, with the longer patience."""
    gate = AckFirst(quiet_s=0.01)
    steps: list[str] = []

    async def dispatch() -> None:
        await ackfirst.after_ack("acked", Patience(wait_s=0.01, limit_s=0.1))
        steps.append("modal opened")
        await ackfirst.then(Patience(wait_s=30, limit_s=30))
        steps.append("filled in")

    with gate.request():  # never acked while the work waits
        task = asyncio.ensure_future(gate.dispatch(dispatch()))
        await eventually(lambda: steps == ["modal opened"])
        for _ in range(10):
            await asyncio.sleep(0.01)
            assert steps == ["modal opened"], "the rest ran while a request still waited for its ack"
    await eventually(lambda: steps == ["modal opened", "filled in"])
    assert await task == "acked"
    await eventually(lambda: not ackfirst._finishing)


async def test_after_a_burst_the_work_goes_a_slice_at_a_time_and_waits_again_for_a_new_request():
    """Once the burst is over the queue goes in slices; a request arriving as the first slice starts is acked
    before any more of the queue is let go."""
    gate = AckFirst(quiet_s=0.01)
    started: list[int] = []
    hold = asyncio.Event()

    async def work(i: int, ticket: ackfirst.Ticket) -> None:
        await gate.turn(ticket, Patience(wait_s=30, limit_s=30))
        started.append(i)
        if len(started) == 1:
            with gate.request():  # a new request, waiting for its ack while the slice runs
                await hold.wait()

    n = 5 * SLICE
    with gate.request():
        tickets = []
        for _ in range(n):
            with gate.request() as t:
                tickets.append(t)
        tasks = [asyncio.create_task(work(i, t)) for i, t in enumerate(tickets)]
        await asyncio.sleep(0.05)
        assert started == [], "work ran while a request still waited for its ack"
    await eventually(lambda: started)
    await asyncio.sleep(0.05)  # well past the quiet time: nothing more may go while the new request waits
    assert len(started) <= 2 * SLICE, f"{len(started)} went while a new request waited for its ack"
    hold.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert sorted(started) == list(range(n)) and started[:SLICE] == list(range(SLICE)), "nearest limits first"


async def test_a_request_on_its_own_starts_its_work_at_once():
    gate = AckFirst(quiet_s=10)  # a quiet time no test would wait out
    with gate.request() as alone:
        pass
    await asyncio.wait_for(gate.turn(alone, Patience(wait_s=30, limit_s=30)), 1)


async def test_the_ack_goes_out_before_the_dispatch_is_over():
    gate = AckFirst()
    finished = asyncio.Event()

    async def dispatch() -> str:
        await ackfirst.after_ack("acked", Patience(wait_s=0, limit_s=0))
        await finished.wait()  # the listener's work goes on after Slack has its answer
        return "acked"

    assert await asyncio.wait_for(gate.dispatch(dispatch()), 5) == "acked"
    assert gate.waiting == 0
    finished.set()
    await eventually(lambda: not ackfirst._finishing)


async def test_a_command_modal_opens_after_the_requests_of_its_burst_are_acked(make_bot, driver, fake_slack):
    """A status update submitted by a member waits for Slack to say who the members are before it is answered.
    A declare command sent meanwhile is acked at once, but opens its modal only once that submission is
    acked; both are carried out."""
    bot = await make_bot(run_scheduler=False, restrict_to_members=True)
    inc = await declare(driver, bot, fake_slack, "quick Burst")
    view, _ = await command_modal(driver, bot, fake_slack, "status", inc.channel)
    asked = len(fake_slack.calls_to("conversations.members"))
    opened = len(fake_slack.calls_to("views.open"))
    hold = fake_slack.hold("conversations.members")
    try:
        submit = asyncio.create_task(driver.submit_view(view, {"text": "Still slow", "eta": ""}, url=bot.url))
        # The submission is waiting for its ack (Slack's answer is held).
        await eventually(lambda: len(fake_slack.calls_to("conversations.members")) > asked)
        status, body, _ = await driver.command("quick Second incident", url=bot.url)
        assert status == 200 and body == ""
        await asyncio.sleep(0.15)  # well past a burst's quiet time, well inside the modal's deadline
        assert len(fake_slack.calls_to("views.open")) == opened, "the modal opened before the burst was acked"
    finally:
        released = time.monotonic()
        hold.set()
    assert (await asyncio.wait_for(submit, 10))[0] == 200
    call = (await fake_slack.wait_for("views.open", opened + 1))[-1]
    assert call.at >= released
    updates = fake_slack.channels[inc.channel].messages
    await eventually(lambda: any("Still slow" in str(m.blocks) + m.text for m in updates)
                     or fake_slack.channel_by_name("status").messages)


def test_full_collections_wait_for_a_quiet_moment_or_a_minute():
    burst = Quiet(since_request=0.001, since_full=5, waiting=12, promoted=40)
    assert not burst.due()
    assert Quiet(since_request=QUIET_S, since_full=5, waiting=0, promoted=40).due()
    assert not Quiet(since_request=QUIET_S, since_full=5, waiting=1, promoted=40).due(), "a request waits"
    assert not Quiet(since_request=QUIET_S, since_full=5, waiting=0, promoted=40, working=3).due(), "work to do"
    # Overdue: a short gap between requests will do, though the burst's work still runs; past twice, none needed.
    assert Quiet(since_request=GAP_S, since_full=LONGEST_WITHOUT_S, waiting=0, promoted=40, working=3).due()
    assert not Quiet(since_request=0.001, since_full=LONGEST_WITHOUT_S, waiting=0, promoted=40).due()
    assert not Quiet(since_request=GAP_S, since_full=LONGEST_WITHOUT_S, waiting=2, promoted=40).due()
    assert Quiet(since_request=0.001, since_full=2 * LONGEST_WITHOUT_S, waiting=12, promoted=40).due()
    assert not Quiet(since_request=100, since_full=100, waiting=0, promoted=0).due(), "nothing new to scan"
