"""A deadline that cuts a leaf's retries short times the leaf out (issue 12, item 3): its parent sees
``TimedOut``, as for any child past its deadline, not ``Rejected`` with the last attempt's error; a leaf
that runs out of retries before its deadline is still ``Rejected``. Virtual time (MockClock)."""

from __future__ import annotations

import pytest
import trio

from pytest_durable import Constant, Context, PromiseState, Rejected, TimedOut, function
from sim import Scenario, run_world
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live


@function(retry=Constant(delay=5, max_retries=10))
async def flaky_upstream() -> str:
    raise RuntimeError("upstream 503")


@function
async def with_fallback(ctx: Context, timeout: float) -> object:
    try:
        return await ctx.run(flaky_upstream).options(timeout=timeout)
    except TimedOut:
        return ("fallback", await ctx.now())
    except Rejected as exc:
        return ("rejected", exc.message)


def test_a_deadline_before_the_next_retry_times_the_leaf_out() -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        start = trio.current_time()
        return await run_to_end(new_worker(store, [with_fallback, flaky_upstream]), "job", with_fallback, 12), start

    (outcome, start) = run_live(main)
    assert outcome[0] == "fallback", outcome
    assert outcome[1] - start == pytest.approx(12.0, abs=1.0)  # at the deadline, not at the third attempt
    records = store.promise_map()
    assert records["job.0"].state is PromiseState.REJECTED_TIMEDOUT
    # every attempt's error is kept: 0 s, 5 s and 10 s, the last one cut short by the deadline at 12 s
    attempts = sorted(r.id for r in records.values() if r.id.startswith("job.0."))
    assert attempts == ["job.0.0", "job.0.1", "job.0.2"]
    assert all("upstream 503" in (records[a].value or "") for a in attempts)


@function(retry=Constant(delay=1, max_retries=2))
async def gives_up_early() -> str:
    raise RuntimeError("card declined")


@function
async def calls_gives_up_early(ctx: Context) -> object:
    try:
        return await ctx.run(gives_up_early).options(timeout=100)
    except TimedOut:
        return "timed out"
    except Rejected as exc:
        return ("rejected", exc.type_name, exc.message)


def test_a_leaf_out_of_retries_before_its_deadline_is_still_rejected_with_its_error() -> None:
    store = new_store()

    async def main() -> object:
        return await run_to_end(new_worker(store, [calls_gives_up_early, gives_up_early]), "job",
                                calls_gives_up_early)

    assert run_live(main) == ("rejected", "RuntimeError", "card declined")


def test_a_worker_that_takes_the_leaf_over_after_a_crash_also_times_it_out() -> None:
    """The attempts are durable: the new worker counts them, sees the deadline comes first, and waits."""
    store = new_store()

    async def main() -> object:
        await run_then_crash(new_worker(store, [with_fallback, flaky_upstream]), "job", with_fallback, 12, at=11)
        return await recover(new_worker(store, [with_fallback, flaky_upstream]), "job")

    outcome = run_live(main)
    assert isinstance(outcome, list | tuple) and outcome[0] == "fallback", outcome
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED_TIMEDOUT


def test_in_every_world_of_a_sweep_the_fallback_runs() -> None:
    scenario = Scenario(with_fallback, (12,), functions=(flaky_upstream,), root_id="job")
    for seed in range(100):
        result = run_world(scenario, seed=seed, faults="crash,drop,reject")
        assert result.ok, (seed, result.violations)
        assert result.value[0] == "fallback", (seed, result.value)
