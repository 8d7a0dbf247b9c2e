"""Semantics settled by issue 8 (items 14 to 16): leaf attempts are counted durably across crashes,
some errors are final, and a durable timer respects the deadline of the workflow that sleeps.

Everything runs under trio's MockClock (live workers) or in a scripted simulated world, so
"seconds" are virtual and every assertion is about order and counts, not speed.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from pytest_durable import (
    Constant,
    Context,
    EncodingError,
    Exponential,
    Linear,
    Never,
    NonRetryable,
    PromiseState,
    Rejected,
    TimedOut,
    UsageError,
    function,
)
from pytest_durable.core.codec import decode_call, decode_error
from pytest_durable.testing.assertions import assert_tree
from sim import FaultPlan, Scenario, run_world
from sim.scenario import Action
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live

ATTEMPTS: list[float] = []

# -- item 14: the attempt count is durable -------------------------------------------------------------


@function(retry=Constant(delay=10, max_retries=2))
async def always_fails() -> str:
    ATTEMPTS.append(trio.current_time())
    raise RuntimeError(f"attempt {len(ATTEMPTS)} failed")


@function
async def calls_always_fails(ctx: Context) -> object:
    try:
        return await ctx.run(always_fails)
    except Rejected as exc:
        return (exc.type_name, exc.message)


def test_max_retries_bounds_the_attempts_across_crashes() -> None:
    """Attempt 1 at 0 s, a crash while waiting; attempt 2 at 10 s, a crash while waiting; attempt 3 at
    20 s is the last. Counted in memory (the old code), each incarnation started again from zero."""
    store = new_store()
    ATTEMPTS.clear()
    bodies: list[str] = []
    fns = [calls_always_fails, always_fails]

    async def main() -> object:
        await run_then_crash(new_worker(store, fns, bodies, id="w1", ttl=3), "job", calls_always_fails, at=5.0)
        assert len(ATTEMPTS) == 1
        with trio.move_on_after(10.0):  # until 15 s: takes over at ~8 s, runs attempt 2 at 10 s
            async with new_worker(store, fns, bodies, id="w2", ttl=3).running():
                await trio.sleep_forever()
        assert len(ATTEMPTS) == 2
        return await recover(new_worker(store, fns, bodies, id="w3", ttl=3), "job")

    result = run_live(main)
    assert bodies.count("job.0") == 3 == len(ATTEMPTS)
    assert pytest.approx([0.0, 10.0, 20.0]) == ATTEMPTS  # the policy's delay runs from each failure
    assert result == ("RuntimeError", "attempt 3 failed")
    records = store.promise_map()
    assert records["job.0"].state is PromiseState.REJECTED
    # Each retried failure is a child of the leaf, rejected with that attempt's error.
    attempts = [records["job.0.0"], records["job.0.1"]]
    assert [decode_call(r.param).func for r in attempts] == ["durable.attempt", "durable.attempt"]
    assert [decode_error(r.value) for r in attempts] == [("RuntimeError", "attempt 1 failed"),
                                                         ("RuntimeError", "attempt 2 failed")]
    assert all(r.state is PromiseState.REJECTED and r.tags["durable:parent"] == "job.0" for r in attempts)
    assert "job.0.2" not in records  # the last failure is the leaf's own rejection


@function(retry=Constant(delay=1, max_retries=3))
async def fails_first(times: int) -> str:
    ATTEMPTS.append(trio.current_time())
    if len(ATTEMPTS) <= times:
        raise RuntimeError(f"attempt {len(ATTEMPTS)} failed")
    return "ok"


@function
async def calls_fails_first(ctx: Context, times: int) -> object:
    return await ctx.run(fails_first, times)


@pytest.mark.parametrize("times", [0, 2])
def test_a_leaf_that_succeeds_writes_one_record_per_retried_failure_and_none_on_the_happy_path(times: int) -> None:
    store = new_store()
    ATTEMPTS.clear()
    result = run_live(lambda: run_to_end(new_worker(store, [calls_fails_first, fails_first]), "job",
                                         calls_fails_first, times))
    assert result == "ok"
    assert [r.id for r in store.promises()] == ["job", "job.0", *(f"job.0.{i}" for i in range(times))]


@function(retry=Constant(delay=20, max_retries=2))
async def sim_always_fails() -> str:
    raise RuntimeError("always fails")


@function
async def sim_calls_always_fails(ctx: Context) -> object:
    try:
        return await ctx.run(sim_always_fails)
    except Rejected as exc:
        return (exc.type_name, exc.message)


def _bodies(result: Any, id: str) -> list[tuple[float, int]]:
    return [(e.time, e.incarnation) for e in result.trace if e.kind == "body" and e.id == id]


def test_in_a_simulated_world_crashes_between_attempts_do_not_reset_the_count() -> None:
    """One worker process, crashed by the script while the leaf waits for its next attempt, twice."""
    scenario = Scenario(sim_calls_always_fails, functions=(sim_always_fails,), workers={"default": 1},
                        root_id="job")
    script = [Action(10.0, "crash", "w1"), Action(11.0, "restart", "w1"),
              Action(25.0, "crash", "w1"), Action(26.0, "restart", "w1")]
    result = run_world(scenario, script=script)
    bodies = _bodies(result, "job.0")
    assert len(bodies) == 3, bodies  # 1 + max_retries, across three incarnations
    assert [inc for _, inc in bodies] == [1, 2, 3]
    assert result.root is not None and result.root.state is PromiseState.RESOLVED
    assert decode_call(result.root.param).func == "sim_calls_always_fails"
    assert result.violations == ()  # attempt records do not count against check (3)
    clean = run_world(scenario, seed=0)
    assert len(_bodies(clean, "job.0")) == 3


@function(retry=Never())
async def never_retried() -> str:
    return "ok"


@function(retry=Constant(delay=1, max_retries=1))
async def retried_once() -> str:
    return "ok"


@function
async def calls_injected(ctx: Context) -> list[object]:
    out: list[object] = []
    for leaf in (never_retried, retried_once):
        try:
            out.append(await ctx.run(leaf))
        except Rejected as exc:
            out.append(exc.type_name)
    return out


def test_an_injected_reject_takes_the_same_retry_path_as_a_real_failure() -> None:
    """``reject`` faults on every leaf body (rate 1, bound 2): the Never leaf is rejected by its only
    attempt, the leaf with one retry records the failed attempt and succeeds on the second."""
    scenario = Scenario(calls_injected, functions=(never_retried, retried_once), workers={"default": 1},
                        root_id="job")
    result = run_world(scenario, faults="reject=1:2", plan=FaultPlan())
    assert result.root is not None
    assert decode_call(result.root.param).func == "calls_injected"
    records = {p.id: p for p in result.promises}
    assert records["job.0"].state is PromiseState.REJECTED
    assert decode_error(records["job.0"].value)[0] == "InjectedFault"
    assert records["job.1"].state is PromiseState.RESOLVED
    assert decode_error(records["job.1.0"].value)[0] == "InjectedFault"
    assert "job.0.0" not in records  # Never: nothing to record, the failure is the leaf's rejection
    assert len(_bodies(result, "job.1")) == 2
    assert "same-promises" not in {v.check for v in result.violations}  # attempts are not extra promises
    # assert_tree leaves attempt records out unless the expected tree names them
    assert_tree(result, """
        calls_injected resolved
          never_retried rejected
          retried_once resolved
    """)
    assert_tree(result, """
        calls_injected resolved
          never_retried rejected
          retried_once resolved
            durable.attempt rejected
    """)
    with pytest.raises(AssertionError):
        assert_tree(result, "calls_injected resolved\n  never_retried rejected\n  durable.attempt rejected")


# -- item 15: errors that are not retried ------------------------------------------------------------


class CardDeclined(NonRetryable):
    pass


class Flaky(Exception):
    pass


RAISE: list[BaseException] = []


@function(retry=Exponential(delay=1, max_retries=3, non_retryable=(ValueError,)))
async def raises_given() -> str:
    ATTEMPTS.append(trio.current_time())
    raise RAISE[0]


@function
async def calls_raises_given(ctx: Context) -> object:
    try:
        return await ctx.run(raises_given)
    except Rejected as exc:
        return exc.type_name


def _attempts_for(error: BaseException) -> tuple[object, int]:
    ATTEMPTS.clear()
    RAISE[:] = [error]
    store = new_store()
    result = run_live(lambda: run_to_end(new_worker(store, [calls_raises_given, raises_given]), "job",
                                         calls_raises_given))
    return result, len(ATTEMPTS)


def test_a_nonretryable_error_rejects_the_leaf_at_once() -> None:
    assert _attempts_for(CardDeclined("card 4242 declined")) == ("CardDeclined", 1)


def test_a_type_in_the_policys_non_retryable_rejects_the_leaf_at_once_and_so_do_its_subclasses() -> None:
    assert _attempts_for(ValueError("bad amount")) == ("ValueError", 1)
    assert _attempts_for(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad byte")) == ("UnicodeDecodeError", 1)
    assert _attempts_for(Flaky("try again")) == ("Flaky", 4)  # other errors: 1 + max_retries


def test_misuse_of_the_platform_is_never_retried() -> None:
    assert _attempts_for(UsageError("misused")) == ("UsageError", 1)
    assert _attempts_for(EncodingError("cannot encode")) == ("EncodingError", 1)


@function(retry=Constant(delay=1, max_retries=3))
async def uses_ledger_outside_a_world() -> str:
    import sim

    ATTEMPTS.append(trio.current_time())
    sim.ledger().record("charge")
    return "charged"


@function
async def calls_ledger_user(ctx: Context) -> object:
    try:
        return await ctx.run(uses_ledger_outside_a_world)
    except Rejected as exc:
        return (exc.type_name, exc.message)


def test_sim_ledger_outside_a_world_rejects_the_leaf_after_one_attempt() -> None:
    ATTEMPTS.clear()
    store = new_store()
    result = run_live(lambda: run_to_end(new_worker(store, [calls_ledger_user, uses_ledger_outside_a_world]),
                                         "job", calls_ledger_user))
    assert isinstance(result, tuple) and result[0] == "UsageError" and "outside a simulated world" in result[1]
    assert len(ATTEMPTS) == 1


@pytest.mark.parametrize("policy", [Exponential, Linear, Constant])
def test_non_retryable_takes_exception_classes_only(policy: Any) -> None:
    assert policy(non_retryable=KeyError).non_retryable == (KeyError,)
    assert policy(non_retryable=[KeyError, ValueError]).non_retryable == (KeyError, ValueError)
    for bad in ("ValueError", (ValueError, 3), KeyboardInterrupt):
        with pytest.raises(UsageError, match=f"{policy.__name__}: non_retryable must be a tuple of exception"):
            policy(non_retryable=bad)


# -- item 16: a sleep does not outlive its workflow's deadline -----------------------------------------


@function
async def sleeps_long(ctx: Context) -> str:
    await ctx.sleep(100)
    return "woke"


@function
async def parent_of_sleeper(ctx: Context) -> tuple[str, float]:
    try:
        return (await ctx.run(sleeps_long).options(timeout=30), await ctx.now())
    except TimedOut:
        return ("timed out", await ctx.now())


def test_a_sleep_past_the_deadline_times_the_workflow_out_at_its_deadline() -> None:
    store = new_store()

    async def main() -> tuple[object, float]:
        start = trio.current_time()
        result = await run_to_end(new_worker(store, [parent_of_sleeper, sleeps_long]), "job", parent_of_sleeper)
        return result, start

    (outcome, when), start = run_live(main)
    assert outcome == "timed out"
    assert when - start == pytest.approx(30.0, abs=1.0)  # not 100 s, when the timer would have fired
    records = store.promise_map()
    assert records["job.0"].state is PromiseState.REJECTED_TIMEDOUT
    assert records["job.0.0"].timeout_at == records["job.0"].timeout_at  # the timer is capped


def test_a_root_that_sleeps_past_its_deadline_times_out_and_never_runs_on() -> None:
    store = new_store()
    bodies: list[str] = []

    async def main() -> float:
        start = trio.current_time()
        with pytest.raises(TimedOut):
            await run_to_end(new_worker(store, [sleeps_long], bodies, root_timeout=40), "job", sleeps_long)
        return trio.current_time() - start

    elapsed = run_live(main)
    assert elapsed == pytest.approx(40.0, abs=1.0)
    assert store.promise_map()["job.0"].timeout_at == store.promise_map()["job"].timeout_at


class _CrashAfterAttemptCreate:
    """A store that crashes its worker (cancels ``scope``) right after the first attempt record is created,
    before the attempt's error is written."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.scope = trio.CancelScope()
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def create_promise(self, id: str, param: str, *args: Any, **kwargs: Any) -> Any:
        record = await self.store.create_promise(id, param, *args, **kwargs)
        if not self.crashed and decode_call(param).func == "durable.attempt":
            self.crashed = True
            self.scope.cancel()
            await trio.sleep(0)
        return record


def test_an_attempt_recorded_without_its_error_still_counts_after_a_crash() -> None:
    store = new_store()
    ATTEMPTS.clear()
    fns = [calls_always_fails, always_fails]

    async def main() -> object:
        crashing = _CrashAfterAttemptCreate(store)
        with crashing.scope:
            async with new_worker(crashing, fns, id="w1", ttl=3).running():  # type: ignore[arg-type]
                await new_worker(crashing, fns, id="w1", ttl=3).run("job", calls_always_fails)  # type: ignore[arg-type]
                await trio.sleep_forever()
        assert store.promise_map()["job.0.0"].state is PromiseState.PENDING
        return await recover(new_worker(store, fns, id="w2", ttl=3), "job")

    result = run_live(main)
    assert result == ("RuntimeError", "attempt 3 failed")
    assert len(ATTEMPTS) == 3
    first = store.promise_map()["job.0.0"]
    assert first.state is PromiseState.REJECTED
    assert decode_error(first.value)[0] == "AttemptInterrupted"
