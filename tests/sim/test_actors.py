"""Actors (``sim.actors``) and the end of a world: outside parties act through the network at given or
drawn times (the same seed, the same world), retry a settle that came before its promise, are fault
points of the aimed sweep; a world runs until every actor is done and every promise with work to run
has settled, and liveness names what did not."""

from __future__ import annotations

import pytest

from pytest_durable import Context, Rejected, TimedOut, UsageError, function
from sim import FaultConfig, Scenario, SimConfig, actors, run_world
from sim.aim import points_of
from sim.scenario import build, scenario_spec
from tests.helpers import shape_workflows as shapes


@function
async def wait_for(ctx: Context, id: str, timeout: float) -> str:
    promise = await ctx.promise(id=id, timeout=timeout)
    try:
        return f"got {await promise}"
    except TimedOut:
        return "timed out"
    except Rejected as exc:
        return f"rejected: {exc}"


def acts(result: object) -> list[str]:
    return [f"{e.time:g} {e.who} {e.detail}" for e in result.trace.events if e.kind == "actor"]  # type: ignore[attr-defined]


def test_an_actor_settles_at_its_time_through_the_network() -> None:
    scenario = Scenario(wait_for, ("a-1", 60.0), actors=(actors.resolve("a-1", "yes", at=5.0),))
    result = run_world(scenario, seed=1)
    assert result.ok and result.value == "got yes"
    assert [a.split(" ", 1)[1] for a in acts(result)] == ["actor1 resolve(a-1): resolved"]
    sends = [e for e in result.trace.events if e.process == "actor1" and e.kind == "send"]
    assert len(sends) == 1 and sends[0].time == 5.0 and sends[0].get("op") == "settle"


def test_a_settle_before_the_promise_exists_is_sent_again_with_backoff() -> None:
    @function
    async def late_promise(ctx: Context) -> str:
        await ctx.sleep(10)  # the webhook comes before this workflow makes its promise
        return str(await wait_for_inline(ctx))

    async def wait_for_inline(ctx: Context) -> object:
        return await (await ctx.promise(id="hook-1", timeout=60))

    scenario = Scenario(late_promise, actors=(actors.resolve("hook-1", 42, at=1.0),))
    result = run_world(scenario, seed=0)
    assert result.ok and result.value == "42"
    lines = acts(result)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "not found, again in 1 s", "not found, again in 2 s", "not found, again in 4 s", "not found, again in 8 s",
        "resolved"]


def test_an_actor_gives_up_after_retry_for_and_the_world_still_ends() -> None:
    scenario = Scenario(wait_for, ("a-2", 30.0), actors=(actors.resolve("nobody-made-this", 1, retry_for=20),))
    result = run_world(scenario, seed=0)
    assert result.ok and result.value == "timed out"
    assert acts(result)[-1].endswith("resolve(nobody-made-this): not found; gave up after 20 s")


def test_an_actor_rejects_and_a_later_one_changes_nothing() -> None:
    scenario = Scenario(wait_for, ("a-3", 60.0), actors=(
        actors.reject("a-3", ValueError("declined"), at=2.0), actors.resolve("a-3", "yes", at=3.0)))
    result = run_world(scenario, seed=0)
    assert result.ok and result.value == "rejected: a-3 was rejected: ValueError: declined"
    assert acts(result)[-1].endswith("actor2 resolve(a-3): already rejected")


def test_drawn_times_come_from_the_seed() -> None:
    scenario = Scenario(wait_for, ("a-4", 200.0), actors=(actors.resolve("a-4", 1, at=(0.0, 150.0), times=2),))
    first, again, other = (run_world(scenario, seed=s) for s in (3, 3, 4))
    assert first.trace_hash == again.trace_hash and acts(first) == acts(again)
    assert acts(first) != acts(other)
    times = [float(a.split()[0]) for a in acts(first) if "again in" not in a]
    assert all(0 <= t <= 151 for t in times) and len(times) == 2


def test_a_maybe_actor_sometimes_never_acts() -> None:
    scenario = Scenario(wait_for, ("a-5", 30.0), actors=(actors.resolve("a-5", 1, maybe=True),))
    values = {run_world(scenario, seed=s).value for s in range(20)}
    assert values == {"got 1", "timed out"}


@function
async def shout(word: str) -> str:
    return word.upper()


def test_an_actor_starts_a_workflow_and_the_world_waits_for_it() -> None:
    scenario = Scenario(wait_for, ("a-6", 10.0), actors=(actors.start("job-9", shout, ("hi",), at=50.0),))
    result = run_world(scenario, seed=0)
    assert result.ok, result.violations
    job = next(p for p in result.promises if p.id == "job-9")
    assert job.state.value == "resolved" and job.value == '"HI"'
    assert result.virtual_time >= 50.0  # after the root (which settles at 10 s)


def test_actor_requests_are_fault_points_of_the_aimed_sweep() -> None:
    points = {str(p) for p in points_of(shapes.approval(), FaultConfig.parse("drop,duplicate")).singles}
    assert {"at(drop, request settle approval-7)", "at(drop, response settle approval-7)",
            "at(duplicate, settle approval-7)", "at(duplicate, late settle approval-7)"} <= points
    scenario = Scenario(wait_for, ("a-8", 60.0), actors=(actors.resolve("a-8", 1, at=5.0),))
    for plan in ("at(drop, request settle a-8)", "at(drop, response settle a-8)", "at(duplicate, late settle a-8)"):
        hit = run_world(scenario, plan=plan, faults="drop,duplicate")
        assert hit.ok and hit.value == "got 1" and not hit.unfired, plan  # its network client sent it again
        assert sum(hit.fault_counts.values()) == 1, plan


@function
async def detach_forever(ctx: Context) -> str:
    await ctx.detach(never_ends)
    return "done"


@function
async def never_ends(ctx: Context) -> None:
    await ctx.promise(id="nobody-answers", timeout=10_000)  # made, never awaited by anyone: the body ends
    await (await ctx.promise(id="nobody-answers-either", timeout=10_000))


def test_liveness_names_the_detached_child_that_did_not_settle() -> None:
    result = run_world(Scenario(detach_forever, functions=(never_ends,)), seed=0,
                       config=SimConfig(budget=100, budget_per_promise=0))
    assert result.root is not None and result.root.settled
    (violation,) = result.violations
    assert violation.check == "liveness" and violation.id == "root.0"
    assert violation.message.startswith("root root settled, but root.0 never_ends() did not finish within 100 s")


def test_a_world_whose_work_ended_with_its_root_ends_there() -> None:
    result = run_world(shapes.checkout_scenario(), seed=0)
    plain = run_world(Scenario(wait_for, ("x", 1.0)), seed=0)
    assert plain.ok and plain.virtual_time < 2
    assert result.ok and any(p.id == "checkout-7.1" and p.settled for p in result.promises)


def test_a_scenario_with_actors_is_data_another_process_builds_again() -> None:
    scenario = Scenario(wait_for, ("a-7", 60.0), functions=(shout,), actors=(
        actors.resolve("a-7", {"ok": True}, at=(1.0, 9.0), times=2, maybe=True),
        actors.start("job-1", shout, ("x",), at=3.0, timeout=100)))
    again = build(scenario_spec(scenario))
    assert again.actors == scenario.actors
    assert run_world(again, seed=5).trace_hash == run_world(scenario, seed=5).trace_hash


@pytest.mark.parametrize(("make", "message"), [
    (lambda: actors.resolve("a b", 1), r"actors.resolve\('a b'\): id must be a non-empty string without white space, "
                                       r"got 'a b'; give the id of the promise it settles"),
    (lambda: actors.resolve("a", 1, at=-1), r"actors.resolve\('a'\): at= must be a virtual time in seconds >= 0"),
    (lambda: actors.resolve("a", 1, at=(5, 1)), r"at= must be .* a window \(first, last\) with 0 <= first <= last"),
    (lambda: actors.resolve("a", 1, times=0), r"times= must be a whole number >= 1"),
    (lambda: actors.resolve("a", object()), r"actors.resolve\('a'\)"),
    (lambda: actors.reject("a", "no"), r"actors.reject\('a'\): error must be an exception instance"),
    (lambda: actors.start("j", print), r"actors.start\('j'\): fn must be a @function"),
    (lambda: actors.start("j", shout, ()), r"actors.start\('j'\)"),
    (lambda: Scenario(wait_for, ("a", 1.0), actors=actors.resolve("a", 1)),  # type: ignore[arg-type]
     r"Scenario: actors= must be a tuple of sim.actors"),
    (lambda: Scenario(wait_for, ("a", 1.0), actors=("a",)), r"Scenario\(actors=...\): 'a' is not an actor"),
    (lambda: Scenario(wait_for, ("a", 1.0), actors=(actors.start("root", shout, ("x",)),)),
     r"starts the root 'root'"),
    (lambda: Scenario(wait_for, ("a", 1.0), actors=(actors.start("j", shout, ("x",), group="gpu"),)),
     r"targets group 'gpu', which has no workers"),
])
def test_bad_actors_are_one_usage_error_naming_what_is_at_fault(make: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()  # type: ignore[operator]


@function
async def nap(seconds: float) -> str:
    import trio

    await trio.sleep(seconds)
    return "rested"


@function
async def detach_a_nap(ctx: Context, seconds: float) -> str:
    await ctx.detach(nap, seconds)
    return "started"


class MainSteps:
    """Counts the task steps of the world's main task (the client, then the wait for the world's end)."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: object) -> None:
        if getattr(task, "name", "").endswith("World.main"):
            self.steps += 1


def test_waiting_for_a_detached_child_costs_no_poll() -> None:
    counts = []
    for seconds in (50.0, 5000.0):
        steps = MainSteps()
        result = run_world(Scenario(detach_a_nap, (seconds,), functions=(nap,)), seed=0, instruments=[steps],
                           config=SimConfig(budget=10_000))
        assert result.ok and result.virtual_time > seconds
        counts.append(steps.steps)
    assert counts[0] == counts[1] and counts[0] > 0  # the same few steps however long the child takes
