"""Every misuse of the SDK gives one clear error: the right type, naming what is at fault, saying what to do.

Misuse inside a workflow body is a user error like any other: the root is rejected with it and
``handle.result()`` raises ``Rejected`` carrying the original type name and message. Misuse at a call
site outside any workflow (``Worker.run``, ``@function``, ``Worker(...)``) raises there, before anything
is written to the store. Errors no retry can fix (an unknown function, nondeterminism) leave the work
pending in the store, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from pytest_durable import (
    Canceled,
    Constant,
    Context,
    DurableFuture,
    EncodingError,
    Exponential,
    Fenced,
    JoinError,
    Never,
    NondeterminismError,
    NotFound,
    PlatformError,
    PromiseState,
    RegistrationError,
    Rejected,
    StoreUnavailable,
    TaskState,
    TimedOut,
    UsageError,
    Worker,
    function,
)
from pytest_durable.sdk import Outcome, Registry
from tests.helpers.worlds import new_store, new_worker, recover, run_then_crash, run_to_end, run_world

# -- functions used by the tests (module level, so the codec and the registry can name them) ----------


@function
async def leaf(x: int) -> int:
    return x * 2


@function
async def slow(x: str, seconds: float) -> str:
    await trio.sleep(seconds)
    return x


@function
async def unregistered(ctx: Context) -> str:
    return "never runs"


@function
async def calls_unknown_name(ctx: Context) -> str:
    return await ctx.rpc("no_such_name", 1)


@function(name="x")
async def dup_one() -> int:
    return 1


@function(name="x")
async def dup_two() -> int:
    return 2


async def plain_leaf(x: int) -> int:  # deliberately not decorated
    return x


@function
async def runs_plain(ctx: Context) -> int:
    return await ctx.run(plain_leaf, 1)  # type: ignore[arg-type]


@function
async def takes_anything(ctx: Context, payload: object) -> str:
    return "ran"


@function
async def any_leaf(thing: object) -> str:
    return "ran"


@function
async def passes_object(ctx: Context) -> str:
    return await ctx.run(any_leaf, object())


@function(retry=Never())
async def returns_object() -> object:
    return object()


@function
async def awaits_bad_return(ctx: Context) -> tuple[str, str]:
    try:
        await ctx.run(returns_object)
    except Rejected as exc:
        return (exc.type_name, exc.message)
    return ("no error", "")


ARGS_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "missing": ((), {}),
    "extra": ((1, 2), {}),
    "unknown keyword": ((1,), {"y": 2}),
}


@function
async def wrong_args(ctx: Context, case: str) -> int:
    args, kwargs = ARGS_CASES[case]
    return await ctx.run(leaf, *args, **kwargs)


FUTURES: list[DurableFuture[int]] = []
CONTEXTS: list[Context] = []


@function
async def keeps_its_future(ctx: Context) -> int:
    CONTEXTS.append(ctx)
    future = await ctx.run(leaf, 1).spawn()
    FUTURES.append(future)
    return await future


@function
async def awaits_foreign_future(ctx: Context) -> int:
    return await FUTURES[0]


@function
async def uses_foreign_context(ctx: Context) -> int:
    return await CONTEXTS[0].run(leaf, 1)


@function
async def starts_twice(ctx: Context, spawn_second: bool) -> int:
    b = ctx.run(leaf, 1)
    first = await b
    if spawn_second:
        await b.spawn()
    else:
        await b
    return first


FLAG = ["a"]


@function
async def changes_its_mind(ctx: Context) -> str:
    first = await ctx.run(slow, FLAG[0], 5.0)  # child 0: slow('a', 5.0) first, slow('b', 5.0) on replay
    second = await ctx.run(slow, "tail", 5.0)
    return first + second


OPTION_CASES: dict[str, dict[str, Any]] = {
    "timeout": {"timeout": -1},
    "retry": {"retry": "often"},
    "target": {"target": "g"},
}


@function
async def bad_options(ctx: Context, case: str) -> str:
    try:
        ctx.run(leaf, 1).options(**OPTION_CASES[case])
    except UsageError as exc:
        return str(exc)
    return "accepted"


@function
async def retry_on_workflow_call(ctx: Context) -> str:
    try:
        ctx.run(runs_plain).options(retry=Never())
    except UsageError as exc:
        return str(exc)
    return "accepted"


async def rejection(store: Any, fns: list[Any], root: Any, *args: Any) -> Rejected:
    """Run ``root`` to its end and return the Rejected that ``handle.result()`` raised."""
    with pytest.raises(Rejected) as info:
        await run_to_end(new_worker(store, fns), "job", root, *args)
    return info.value


# -- an unregistered function -------------------------------------------------------------------------


def test_running_an_unregistered_function_names_it_and_says_to_register_it() -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [leaf])
        with pytest.raises(RegistrationError) as info:
            await worker.run("job", unregistered)
        message = str(info.value)
        assert "'unregistered'" in message
        assert "register" in message.replace("registered", "")  # says what to do, not only what is wrong
        assert store.promises() == []

    run_world(main)


def test_a_function_registered_under_its_name_by_another_body_cannot_be_run() -> None:
    async def main() -> None:
        worker = new_worker(new_store(), [dup_one])
        with pytest.raises(RegistrationError) as info:
            await worker.run("job", dup_two)
        assert "'x'" in str(info.value)
        assert worker.store.promises() == []  # type: ignore[attr-defined]

    run_world(main)


def test_rpc_to_an_unknown_name_fails_the_root_handle_and_leaves_the_child_pending() -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [calls_unknown_name])
        async with worker.running():
            handle = await worker.run("job", calls_unknown_name)
            with pytest.raises(RegistrationError) as info:
                await handle.result()
        assert "'no_such_name'" in str(info.value)
        assert "register" in str(info.value)
        child = store.promise_map()["job.0"]
        assert child.state is PromiseState.PENDING  # not rejected: nothing lost
        assert store.promise_map()["job"].state is PromiseState.PENDING
        assert {t.id: t.state for t in store.tasks()}["job.0"] is TaskState.PENDING

    run_world(main)


def test_rpc_to_an_unknown_name_the_executor_raises_registration_error_and_writes_nothing() -> None:
    """The same misuse one layer down, where it works: executing the child's task raises the error
    naming the function, and neither the child nor the parent is settled."""
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [calls_unknown_name])
        await worker.run("job", calls_unknown_name)  # writes the root; nothing serves it
        root_task = await store.acquire_task("job", "me", 30)
        outcome = await worker.executor.execute(root_task)
        assert outcome is Outcome.SUSPENDED
        child_task = await store.acquire_task("job.0", "me", 30)
        with pytest.raises(RegistrationError) as info:
            await worker.executor.execute(child_task)
        assert "'no_such_name'" in str(info.value)
        assert "worker.register" in str(info.value)
        assert {r.id: r.state for r in store.promises()} == {
            "job": PromiseState.PENDING, "job.0": PromiseState.PENDING,
        }

    run_world(main)


# -- a duplicate name ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["registry", "worker"])
def test_two_functions_under_one_name_name_both_and_suggest_function_name(where: str) -> None:
    registry = Registry() if where == "registry" else Worker(new_store())
    registry.register(dup_one)
    with pytest.raises(RegistrationError) as info:
        registry.register(dup_two)
    message = str(info.value)
    assert "'x'" in message
    assert "dup_one" in message
    assert "dup_two" in message
    assert "@function(name=...)" in message


def test_registering_the_same_function_twice_is_fine() -> None:
    registry = Registry()
    registry.register(dup_one)
    registry.register(dup_one)
    assert registry.get("x") is dup_one
    assert registry.names() == ["x"]
    worker = Worker(new_store())
    worker.register(leaf, leaf)
    worker.register(leaf)
    assert worker.registry.get("leaf") is leaf


def test_registering_something_that_is_not_durable_says_to_decorate_it() -> None:
    with pytest.raises(RegistrationError) as info:
        Registry().register(plain_leaf)  # type: ignore[arg-type]
    assert "plain_leaf" in str(info.value)
    assert "@pytest_durable.function" in str(info.value)


# -- @function misuse ---------------------------------------------------------------------------------


def test_function_on_a_non_async_function_is_a_usage_error() -> None:
    def not_async(x: int) -> int:
        return x

    with pytest.raises(UsageError) as info:
        function(not_async)  # type: ignore[arg-type]
    assert "not_async" in str(info.value)
    assert "async def" in str(info.value)


def test_function_with_retry_on_a_workflow_is_a_usage_error() -> None:
    async def a_workflow(ctx: Context) -> int:
        return 1

    with pytest.raises(UsageError) as info:
        function(retry=Constant())(a_workflow)
    assert "a_workflow" in str(info.value)
    assert "leaves only" in str(info.value)


def test_passing_an_undecorated_function_to_ctx_run_rejects_the_root_with_usage_error() -> None:
    store = new_store()

    async def main() -> Rejected:
        return await rejection(store, [runs_plain], runs_plain)

    error = run_world(main)
    assert error.type_name == "UsageError"
    assert "plain_leaf is not a durable function" in error.message
    assert "@pytest_durable.function" in error.message
    assert [r.id for r in store.promises()] == ["job"]


# -- values that cannot be encoded --------------------------------------------------------------------


@pytest.mark.parametrize("as_keyword", [False, True])
def test_an_unencodable_root_argument_is_refused_at_the_call_site_and_writes_nothing(as_keyword: bool) -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [takes_anything])
        with pytest.raises(EncodingError) as info:
            if as_keyword:
                await worker.run("job", takes_anything, payload=object())
            else:
                await worker.run("job", takes_anything, object())
        message = str(info.value)
        assert "takes_anything" in message
        assert "'payload'" in message
        assert "not supported" in message and "attrs classes" in message  # and what would work

    run_world(main)
    assert store.promises() == []
    assert store.tasks() == []


def test_an_unencodable_child_argument_rejects_the_root_and_creates_no_child() -> None:
    store = new_store()

    async def main() -> Rejected:
        return await rejection(store, [passes_object, any_leaf], passes_object)

    error = run_world(main)
    assert error.type_name == "EncodingError"
    assert "any_leaf" in error.message
    assert "'thing'" in error.message
    assert [r.id for r in store.promises()] == ["job"]


def test_a_leaf_returning_an_unencodable_value_is_rejected_with_encoding_error() -> None:
    store = new_store()

    async def main() -> tuple[str, str]:
        return await run_to_end(  # type: ignore[no-any-return]
            new_worker(store, [awaits_bad_return, returns_object]), "job", awaits_bad_return
        )

    type_name, message = run_world(main)
    assert type_name == "EncodingError"
    assert "returns_object" in message
    assert store.promise_map()["job.0"].state is PromiseState.REJECTED
    assert store.promise_map()["job"].state is PromiseState.RESOLVED


# -- wrong arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "detail"),
    [("missing", "missing a required argument: 'x'"), ("extra", "too many positional arguments"),
     ("unknown keyword", "unexpected keyword argument 'y'")],
)
def test_wrong_arguments_to_ctx_run_name_the_signature(case: str, detail: str) -> None:
    store = new_store()

    async def main() -> Rejected:
        return await rejection(store, [wrong_args, leaf], wrong_args, case)

    error = run_world(main)
    assert error.type_name == "UsageError"
    assert "leaf(x: 'int')" in error.message or "leaf(x: int)" in error.message
    assert detail in error.message
    assert [r.id for r in store.promises()] == ["job"]


def test_wrong_arguments_to_worker_run_are_refused_at_the_call_site() -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [leaf])
        with pytest.raises(UsageError) as info:
            await worker.run("job", leaf, 1, 2)
        assert "Worker.run" in str(info.value)
        assert "leaf(x:" in str(info.value)

    run_world(main)
    assert store.promises() == []


# -- futures and contexts used outside their workflow -------------------------------------------------


def test_awaiting_another_workflows_future_rejects_the_root_naming_the_owner() -> None:
    store = new_store()
    FUTURES.clear()
    CONTEXTS.clear()

    async def main() -> Rejected:
        worker = new_worker(store, [keeps_its_future, awaits_foreign_future, leaf])
        async with worker.running():
            first = await worker.run("first", keeps_its_future)
            assert await first.result() == 2
            second = await worker.run("second", awaits_foreign_future)
            with pytest.raises(Rejected) as info:
                await second.result()
        return info.value

    error = run_world(main)
    assert error.type_name == "UsageError"
    assert "first.0 belongs to workflow first" in error.message
    assert "awaited by workflow second" in error.message
    assert "only inside the workflow that spawned it" in error.message


def test_awaiting_a_future_outside_any_workflow_is_a_usage_error() -> None:
    store = new_store()
    FUTURES.clear()
    CONTEXTS.clear()

    async def main() -> None:
        assert await run_to_end(new_worker(store, [keeps_its_future, leaf]), "first", keeps_its_future) == 2
        with pytest.raises(UsageError) as info:
            await FUTURES[0]
        assert "belongs to workflow first" in str(info.value)
        assert "code outside any workflow" in str(info.value)

    run_world(main)


def test_a_context_captured_from_one_workflow_cannot_be_used_in_another() -> None:
    store = new_store()
    FUTURES.clear()
    CONTEXTS.clear()

    async def main() -> Rejected:
        worker = new_worker(store, [keeps_its_future, uses_foreign_context, leaf])
        async with worker.running():
            assert await (await worker.run("first", keeps_its_future)).result() == 2
            second = await worker.run("second", uses_foreign_context)
            with pytest.raises(Rejected) as info:
                await second.result()
        return info.value

    error = run_world(main)
    assert error.type_name == "UsageError"
    assert "Context of first" in error.message
    assert "use the ctx your own workflow received" in error.message
    assert not any(r.id.startswith("second.") for r in store.promises())


@pytest.mark.parametrize("spawn_second", [False, True])
def test_starting_a_builder_twice_is_a_usage_error(spawn_second: bool) -> None:
    store = new_store()

    async def main() -> Rejected:
        return await rejection(store, [starts_twice, leaf], starts_twice, spawn_second)

    error = run_world(main)
    assert error.type_name == "UsageError"
    assert "ctx.run(leaf) was already started" in error.message
    assert "call ctx.run again" in error.message
    assert [r.id for r in store.promises()] == ["job", "job.0"]


# -- nondeterminism -----------------------------------------------------------------------------------


@pytest.mark.parametrize("crash_at", [1.0, 7.0], ids=["before-child-settled", "after-child-settled"])
def test_a_workflow_that_changes_its_children_on_replay_raises_nondeterminism(crash_at: float) -> None:
    store = new_store()
    FLAG[0] = "a"

    async def main() -> None:
        await run_then_crash(new_worker(store, [changes_its_mind, slow]), "job", changes_its_mind, at=crash_at)
        FLAG[0] = "b"
        with pytest.raises(NondeterminismError) as info:
            await recover(new_worker(store, [changes_its_mind, slow]), "job")
        message = str(info.value)
        assert "job.0" in message
        assert "slow('a', 5.0)" in message
        assert "slow('b', 5.0)" in message
        assert store.promise_map()["job"].state is PromiseState.PENDING

    run_world(main)


@pytest.mark.parametrize("crash_at", [1.0, 7.0], ids=["before-child-settled", "after-child-settled"])
def test_the_executor_raises_nondeterminism_naming_the_child_and_both_calls(crash_at: float) -> None:
    """One layer below the worker: executing the recovered task raises NondeterminismError itself
    (not an exception group), and the root stays pending."""
    store = new_store()
    FLAG[0] = "a"

    async def main() -> None:
        await run_then_crash(new_worker(store, [changes_its_mind, slow]), "job", changes_its_mind, at=crash_at)
        child_before = store.promise_map()["job.0"]
        FLAG[0] = "b"
        await trio.sleep(30)  # the crashed worker's lease (ttl 30) expires
        worker = new_worker(store, [changes_its_mind, slow])
        task = await store.acquire_task("job", "recovery", 30)
        with pytest.raises(NondeterminismError) as info:
            await worker.executor.execute(task)
        error = info.value
        assert error.id == "job.0"
        assert error.recorded == "slow('a', 5.0)"
        assert error.new == "slow('b', 5.0)"
        assert "job.0" in str(error) and "slow('a', 5.0)" in str(error) and "slow('b', 5.0)" in str(error)
        assert store.promise_map()["job"].state is PromiseState.PENDING
        assert store.promise_map()["job.0"] == child_before  # the recorded child was not touched

    run_world(main)


# -- the error hierarchy ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [NondeterminismError, Fenced, StoreUnavailable, NotFound, PlatformError])
def test_platform_errors_are_base_exceptions_that_except_exception_cannot_swallow(cls: type) -> None:
    assert issubclass(cls, BaseException)
    assert not issubclass(cls, Exception)


@pytest.mark.parametrize("cls", [Rejected, Canceled, TimedOut, JoinError, UsageError, EncodingError,
                                 RegistrationError])
def test_user_errors_are_exceptions(cls: type) -> None:
    assert issubclass(cls, Exception)
    assert not issubclass(cls, PlatformError)


# -- bad option values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [("timeout", ["timeout", "-1", ">= 0"]), ("retry", ["retry", "'often'", "Exponential"]),
     ("target", ["target", "ctx.rpc only"])],
)
def test_bad_options_on_ctx_run_are_usage_errors_naming_the_option(case: str, expected: list[str]) -> None:
    store = new_store()
    message = run_world(lambda: run_to_end(new_worker(store, [bad_options, leaf]), "job", bad_options, case))
    assert message != "accepted"
    for word in expected:
        assert word in message
    assert [r.id for r in store.promises()] == ["job"]


def test_retry_option_on_a_workflow_child_is_a_usage_error() -> None:
    store = new_store()
    message = run_world(
        lambda: run_to_end(new_worker(store, [retry_on_workflow_call, runs_plain]), "job", retry_on_workflow_call)
    )
    assert "ctx.run(runs_plain).options" in message
    assert "leaves only" in message


@pytest.mark.parametrize(("option", "value"), [("ttl", 0), ("poll_interval", -1.0), ("root_timeout", "1d")])
def test_bad_worker_settings_are_usage_errors_naming_the_setting(option: str, value: object) -> None:
    with pytest.raises(UsageError) as info:
        Worker(new_store(), **{option: value})  # type: ignore[arg-type]
    assert f"{option} must be" in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(("policy", "field"), [(Exponential, "delay"), (Constant, "max_retries")])
def test_bad_retry_policy_values_are_usage_errors_naming_the_field(policy: type, field: str) -> None:
    with pytest.raises(UsageError) as info:
        policy(**{field: -1})
    assert f"{policy.__name__}: {field} must be" in str(info.value)


@pytest.mark.parametrize("bad_id", ["my job", " job", "job\t1", ""])
def test_a_root_id_with_white_space_is_refused_at_the_call_site(bad_id: str) -> None:
    store = new_store()

    async def main() -> None:
        worker = new_worker(store, [leaf])
        with pytest.raises(UsageError) as info:
            await worker.run(bad_id, leaf, 1)
        assert "Worker.run: id must be" in str(info.value)
        assert repr(bad_id) in str(info.value)

    run_world(main)
    assert store.promises() == []
