"""``ctx.sleep_until(when)`` (issue 12, item 4): a durable timer with a due time fires on time after a
crash and a slow recovery, where ``ctx.sleep(due - await ctx.now())`` fires late by the recovery time
(the replay gets the recorded, stale ``now``). Virtual time (MockClock); the default lease is 30 s."""

from __future__ import annotations

import math

import pytest
import trio

from pytest_durable import Context, PromiseState, TimedOut, UsageError, function
from sim import Scenario, run_world
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live

DUE_IN = 100.0


@function
async def paperwork() -> str:
    await trio.sleep(5)
    return "done"


@function
async def remind_until(ctx: Context) -> float:
    due = await ctx.now() + DUE_IN
    await ctx.run(paperwork)
    await ctx.sleep_until(due)
    return await ctx.now() - (due - DUE_IN)


@function
async def remind_remaining(ctx: Context) -> float:  # the workaround the issue found wanting
    due = await ctx.now() + DUE_IN
    remaining = due - await ctx.now()  # recorded now: a replay after the crash gets this stale value
    await ctx.run(paperwork)
    await ctx.sleep(remaining)
    return await ctx.now() - (due - DUE_IN)


def fired_after_crash(workflow: object) -> float:
    """Seconds from the workflow's start to its reminder, the first worker crashing 3 s in (during the
    paperwork, before the timer promise was made)."""
    store = new_store()
    fns = [workflow, paperwork]

    async def main() -> float:
        await run_then_crash(new_worker(store, fns), "job", workflow, at=3)  # type: ignore[arg-type]
        return float(await recover(new_worker(store, fns), "job"))

    return float(run_live(main))


def test_a_timer_with_a_due_time_fires_on_time_after_a_crash_and_recovery() -> None:
    on_time = fired_after_crash(remind_until)
    late = fired_after_crash(remind_remaining)
    assert on_time == pytest.approx(DUE_IN, abs=0.5)
    assert late > DUE_IN + 20  # the recovery (a 30 s lease) came on top: what sleep_until is for


@function
async def due_in_the_past(ctx: Context) -> float:
    start = await ctx.now()
    await ctx.sleep_until(start - 10)
    return await ctx.now() - start


def test_a_due_time_already_past_fires_at_once() -> None:
    store = new_store()

    async def main() -> float:
        return float(await run_to_end(new_worker(store, [due_in_the_past]), "job", due_in_the_past))

    assert run_live(main) < 1.0
    timer = store.promise_map()["job.1"]
    assert timer.state is PromiseState.RESOLVED


@function
async def due_after_the_deadline(ctx: Context) -> str:
    await ctx.sleep_until(await ctx.now() + 1000)
    return "woke"


@function
async def parent_with_deadline(ctx: Context) -> str:
    try:
        return await ctx.run(due_after_the_deadline).options(timeout=30)
    except TimedOut:
        return "timed out"


def test_a_due_time_past_the_workflows_deadline_times_it_out_at_the_deadline() -> None:
    store = new_store()

    async def main() -> tuple[str, float]:
        start = trio.current_time()
        value = await run_to_end(new_worker(store, [parent_with_deadline, due_after_the_deadline]), "job",
                                 parent_with_deadline)
        return value, trio.current_time() - start

    value, elapsed = run_live(main)
    assert value == "timed out" and elapsed == pytest.approx(30.0, abs=1.0)


@function
async def bad_due(ctx: Context, when: object) -> None:
    await ctx.sleep_until(when)  # type: ignore[arg-type]


@pytest.mark.parametrize("when", [math.nan, math.inf, "tomorrow", True])
def test_a_due_time_that_is_not_a_finite_number_is_one_clear_error(when: object) -> None:
    store = new_store()

    async def main() -> None:
        await run_to_end(new_worker(store, [bad_due]), "job", bad_due, when)

    with pytest.raises(Exception) as raised:
        run_live(main)
    assert "ctx.sleep_until: when must be a finite number of epoch seconds" in str(raised.value)
    assert isinstance(raised.value, UsageError) or "UsageError" in str(raised.value)


def test_a_reminder_with_a_due_time_holds_every_check_under_faults() -> None:
    scenario = Scenario(remind_until, functions=(paperwork,), root_id="job")
    for seed in range(30):
        result = run_world(scenario, seed=seed, faults="crash,drop,reject")
        assert result.ok, (seed, result.violations)
        assert result.value >= DUE_IN - 1e-6
