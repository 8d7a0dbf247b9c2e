"""Issue 23, items 4, 6 and 7 on live workers under trio's MockClock (seconds are virtual): typed
rejections with retries' ``non_retryable`` and ``NonRetryable`` as before; ``ctx.resolve``/``ctx.reject``,
``ctx.uuid()`` and ``current_root_id()``; retry policies bounded by total time and per attempt, durably
across a crash."""

from __future__ import annotations

import random
from uuid import UUID

import pytest
import trio

from pytest_durable import (
    AttemptTimedOut,
    Constant,
    Context,
    Exponential,
    Linear,
    NonRetryable,
    Rejected,
    TimedOut,
    UsageError,
    current_root_id,
    function,
)
from pytest_durable.core.codec import decode_error
from tests.helpers.saga_shapes import CardDeclined
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end, run_world

ATTEMPTS: list[float] = []

# -- item 4: a typed rejection and the retry rules -------------------------------------------------------


class Unavailable(NonRetryable):
    pass


@function(retry=Constant(delay=1, max_retries=3, non_retryable=(CardDeclined,)))
async def declines() -> str:
    ATTEMPTS.append(trio.current_time())
    raise CardDeclined("51", 10)


@function(retry=Constant(delay=1, max_retries=3))
async def unavailable() -> str:
    ATTEMPTS.append(trio.current_time())
    raise Unavailable("gone for good")


@function(retry=Constant(delay=1, max_retries=2))
async def value_error() -> str:
    ATTEMPTS.append(trio.current_time())
    raise ValueError("bad input")


@function
async def catches(ctx: Context, which: str) -> object:
    leaf = {"declines": declines, "unavailable": unavailable, "value_error": value_error}[which]
    try:
        return await ctx.run(leaf)
    except CardDeclined as exc:
        return ("CardDeclined", exc.code)
    except Unavailable as exc:
        return ("Unavailable", exc.args)
    except ValueError as exc:
        return ("ValueError", exc.message)


@pytest.mark.parametrize(("which", "attempts", "expected"), [
    ("declines", 1, ("CardDeclined", "51")),  # named in non_retryable: one attempt, as before
    ("unavailable", 1, ("Unavailable", ("gone for good",))),  # a NonRetryable: one attempt, as before
    ("value_error", 3, ("ValueError", "bad input")),  # retried by its policy, then caught by its class
])
def test_a_rejection_is_caught_by_class_and_retries_are_as_before(which: str, attempts: int, expected: object) -> None:
    ATTEMPTS.clear()
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [catches, declines, unavailable, value_error]), "job",
                                          catches, which))
    assert result == expected
    assert len(ATTEMPTS) == attempts


@function(retry=Constant(delay=5, max_retries=1, non_retryable=(CardDeclined,)))
async def declines_slowly() -> str:
    await trio.sleep(1)
    raise CardDeclined("05", 20)


@function
async def catches_after_crash(ctx: Context) -> object:
    try:
        await ctx.run(declines_slowly)
    except CardDeclined as exc:
        await ctx.sleep(10)  # a crash lands here: the next worker replays the rejection from the store
        return exc.code
    return "charged"


def test_a_rejection_read_again_after_a_crash_is_caught_by_its_class() -> None:
    store = new_store()
    bodies: list[str] = []
    fns = [catches_after_crash, declines_slowly]

    async def main() -> object:
        await run_then_crash(new_worker(store, fns, bodies, id="w1", ttl=3), "job", catches_after_crash, at=5.0)
        return await recover(new_worker(store, fns, bodies, id="w2", ttl=3), "job")

    assert run_world(main) == "05"
    assert bodies.count("job") == 2 and bodies.count("job.0") == 1  # replayed, the leaf not run again


# -- item 6: settling other promises, ctx.uuid, the root's id ------------------------------------------


@function
async def waits(ctx: Context) -> object:
    p = await ctx.promise(timeout=600, id="approval-1")
    try:
        return await p
    except CardDeclined as exc:
        return f"declined {exc.code}"


@function
async def answers(ctx: Context, value: object, reject: bool) -> object:
    if reject:
        return await ctx.reject("approval-1", CardDeclined(str(value), 1))
    return await ctx.resolve("approval-1", value)


@function
async def answers_nobody(ctx: Context) -> object:
    try:
        return await ctx.resolve("nobody", 1)
    except LookupError as exc:
        return str(exc)


@pytest.mark.parametrize(("reject", "answer", "expected"), [(False, {"ok": True}, {"ok": True}),
                                                            (True, "14", "declined 14")])
def test_one_workflow_settles_the_promise_another_waits_for(reject: bool, answer: object, expected: object) -> None:
    store = new_store()

    async def main() -> tuple[object, object, object]:
        worker = new_worker(store, [waits, answers])
        async with worker.running():
            waiting = await worker.run("wait", waits)
            await trio.sleep(2)  # the waiter made its promise and suspended
            first = await (await worker.run("answer-1", answers, answer, reject)).result()
            late = await (await worker.run("answer-2", answers, "too late", reject)).result()
            return first, late, await waiting.result()

    first, late, value = run_world(main)
    assert (first, late, value) == (True, False, expected)  # write-once: the second answer changed nothing


def test_settling_a_promise_that_does_not_exist_is_a_lookup_error() -> None:
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [answers_nobody]), "job", answers_nobody))
    assert result == "job.0 was rejected: LookupError: ctx.resolve('nobody') in job: no promise with id 'nobody' exists"


@function
async def settles_itself(ctx: Context) -> None:
    await ctx.resolve(ctx.id, 1)


@function
async def rejects_with_a_class(ctx: Context) -> None:
    await ctx.reject("x", CardDeclined)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fn", "message"), [
    (settles_itself, "ctx.resolve('job') in job: that is this workflow's own promise; return a value or raise instead"),
    (rejects_with_a_class, "ctx.reject('x', ...): error must be an Exception instance, got <class "),
])
def test_misusing_resolve_and_reject_is_one_usage_error(fn: object, message: str) -> None:
    store = new_store()
    with pytest.raises(Rejected) as info:
        run_world(lambda: run_to_end(new_worker(store, [fn]), "job", fn))  # type: ignore[list-item,arg-type]
    assert isinstance(info.value, UsageError) and message in info.value.message


SEEN: list[object] = []


@function
async def slow(seconds: float) -> None:
    await trio.sleep(seconds)


@function
async def draws_uuid(ctx: Context) -> str:
    token = await ctx.uuid()
    SEEN.append(token)
    await ctx.run(slow, 3)  # a crash lands here
    return str(token)


def test_ctx_uuid_is_recorded_once_and_replayed_after_a_crash() -> None:
    store = new_store()
    SEEN.clear()

    async def main() -> object:
        first = new_worker(store, [draws_uuid, slow], rng=random.Random(1).random, id="w1", ttl=3)
        await run_then_crash(first, "job", draws_uuid, at=1.0)
        second = new_worker(store, [draws_uuid, slow], rng=random.Random(2).random, id="w2", ttl=3)
        return await recover(second, "job")

    value = run_world(main)
    assert len(SEEN) == 2 and SEEN[0] == SEEN[1] == UUID(str(value))  # the replay read the recorded one
    assert UUID(str(value)).version == 4
    assert store.promise_map()["job.0"].param == '{"func":"durable.uuid","args":[],"kwargs":{}}'
    rng = random.Random(1)
    bits = 0
    for _ in range(5):
        bits = (bits << 30) | int(rng.random() * (1 << 30))
    assert value == str(UUID(int=bits & ((1 << 128) - 1), version=4))  # drawn from the worker's rng


@function
async def reads_root() -> object:
    return current_root_id()


@function
async def calls_reads_root(ctx: Context) -> object:
    local = await ctx.run(reads_root).options(id="my-own-id")
    remote = await ctx.rpc(reads_root)
    return (local, remote, current_root_id())


def test_a_leaf_reads_its_roots_id_even_under_an_id_of_its_own() -> None:
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [calls_reads_root, reads_root]), "order-9",
                                          calls_reads_root))
    assert result == ("order-9", "order-9", "order-9")
    assert current_root_id() is None  # outside any body


# -- item 7: max_retries=None with max_duration; attempt_timeout ------------------------------------------


@function(retry=Constant(delay=3, max_retries=None, max_duration=10))
async def always_down() -> str:
    ATTEMPTS.append(trio.current_time())
    raise ConnectionError(f"down at attempt {len(ATTEMPTS)}")


@function
async def calls_always_down(ctx: Context) -> object:
    try:
        return await ctx.run(always_down)
    except ConnectionError as exc:
        return exc.message


def test_an_unbounded_policy_retries_until_its_duration_has_passed() -> None:
    ATTEMPTS.clear()
    store = new_store()
    result = run_world(lambda: run_to_end(new_worker(store, [calls_always_down, always_down]), "job",
                                          calls_always_down))
    assert pytest.approx([0, 3, 6, 9]) == ATTEMPTS  # the next would start at 12, past 10 s after the promise
    assert result == "down at attempt 4"


def test_the_duration_counts_from_the_promise_across_a_crash() -> None:
    ATTEMPTS.clear()
    store = new_store()
    fns = [calls_always_down, always_down]

    async def main() -> object:
        await run_then_crash(new_worker(store, fns, id="w1", ttl=3), "job", calls_always_down, at=4.0)
        return await recover(new_worker(store, fns, id="w2", ttl=3), "job")

    result = run_world(main)
    created = store.promise_map()["job.0"].created_on
    assert ATTEMPTS[:2] == pytest.approx([0, 3])
    assert all(at <= created + 10 for at in ATTEMPTS)  # no attempt started past max_duration, crash or not
    assert len(ATTEMPTS) < 5 and result == f"down at attempt {len(ATTEMPTS)}"


@function(retry=Constant(delay=1, max_retries=2, attempt_timeout=2))
async def hangs_once() -> str:
    ATTEMPTS.append(trio.current_time())
    if len(ATTEMPTS) == 1:
        await trio.sleep(100)
    return "answered"


@function(retry=Linear(delay=1, max_retries=1, attempt_timeout=2))
async def always_hangs() -> str:
    ATTEMPTS.append(trio.current_time())
    await trio.sleep(100)
    return "never"


@function
async def calls_hanging(ctx: Context, which: str) -> object:
    try:
        if which == "deadline":  # the leaf's own deadline comes before the attempt timeout: TimedOut
            return await ctx.run(always_hangs).options(timeout=1)
        return await ctx.run(hangs_once if which == "once" else always_hangs)
    except AttemptTimedOut as exc:
        return ("AttemptTimedOut", exc.message)
    except TimedOut as exc:
        return ("TimedOut", exc.id)


def test_an_attempt_that_runs_too_long_is_cancelled_recorded_and_retried() -> None:
    ATTEMPTS.clear()
    store = new_store()
    fns = [calls_hanging, hangs_once, always_hangs]
    result = run_world(lambda: run_to_end(new_worker(store, fns), "job", calls_hanging, "once"))
    assert result == "answered"
    assert pytest.approx([0, 3]) == ATTEMPTS  # cancelled at 2 s, retried 1 s later
    assert decode_error(store.promise_map()["job.0.0"].value) == (
        "AttemptTimedOut",
        "attempt 1 of job.0 (hangs_once) ran longer than its attempt_timeout of 2 s and was cancelled")


def test_the_last_attempt_timing_out_rejects_the_leaf_with_attempt_timed_out() -> None:
    ATTEMPTS.clear()
    store = new_store()
    fns = [calls_hanging, hangs_once, always_hangs]
    result = run_world(lambda: run_to_end(new_worker(store, fns), "job", calls_hanging, "always"))
    assert result == ("AttemptTimedOut", "attempt 2 of job.0 (always_hangs) ran longer than its attempt_timeout of 2 s "
                      "and was cancelled")
    assert pytest.approx([0, 3]) == ATTEMPTS


def test_the_leafs_deadline_is_still_a_timeout_of_its_own() -> None:
    store = new_store()
    fns = [calls_hanging, hangs_once, always_hangs]
    assert run_world(lambda: run_to_end(new_worker(store, fns), "job", calls_hanging, "deadline")) == ("TimedOut",
                                                                                                        "job.0")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Constant(max_retries=None), "Constant: max_retries=None retries without bound; give max_duration="),
    (lambda: Exponential(max_retries=None, max_duration=5, delay=0), "Exponential: max_retries=None needs delay > 0"),
    (lambda: Linear(attempt_timeout=0), "Linear: attempt_timeout must be a number of seconds > 0, or None, got 0"),
    (lambda: Constant(max_duration=-1), "Constant: max_duration must be a number of seconds > 0, or None, got -1"),
    (lambda: Constant(max_duration=float("inf")), "Constant: max_duration must be a number of seconds > 0"),
    (lambda: Constant(max_retries=-1), "Constant: max_retries must be a number >= 0, got -1"),
])
def test_bad_bounds_are_one_usage_error(make: object, message: str) -> None:
    with pytest.raises(UsageError) as info:
        make()  # type: ignore[operator]
    assert str(info.value).startswith(message)


def test_an_unbounded_exponential_policy_caps_its_far_delays() -> None:
    policy = Exponential(delay=1, factor=2, max_retries=None, max_duration=3600, max_delay=60)
    assert [policy.delay_before(n) for n in (1, 2, 7, 5000)] == [1.0, 2.0, 60.0, 60.0]
