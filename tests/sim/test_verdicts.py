"""True verdicts (issue 8, items 1-3, 5 and 7): a correct workflow whose outcome faults may rightly change
passes every world, and a replay that contradicts the store's record fails one.

Checks (3) and (4) judge a world by its own record (``sim.checks.oracle``): recorded nondeterminism, timeouts
and leaves rejected by their retry policy may change a value between worlds; a replay that asks for
other children than recorded, or computes another value from them, may not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from pytest_durable import Context, Never, Rejected, TimedOut, function
from sim import FaultConfig, Scenario, SimConfig, ledger, run_world
from sim.checks.oracle import check

ROOT = Path(__file__).resolve().parents[2]

# -- correct workflows whose outcome faults may rightly change ------------------------------------------


@function
async def quote(item: int) -> int:
    await trio.sleep(0.3)
    return item * 10


@function
async def lucky_draw(ctx: Context) -> list[float]:
    """Its value comes from recorded nondeterminism: a crash or a drop changes when ``ctx.now()`` is
    first read and what ``ctx.random()`` draws, and the store then holds that value."""
    draw = await ctx.random()
    price = await ctx.run(quote, 1)
    when = await ctx.now()
    return [draw, float(price), when]


@function
async def slow(item: int) -> int:
    await trio.sleep(0.9)
    return item


@function
async def with_deadline(ctx: Context) -> str:
    """A child with a timeout: under crashes it may time out before it settles, a legitimate outcome."""
    try:
        return f"ok {await ctx.run(slow, 7).options(timeout=1.0)}"
    except TimedOut:
        return "timed out"
    except Rejected:  # failed attempts used up the time left for retries
        return "failed"


@function(retry=Never())
async def charge_card(order: str) -> str:
    ledger().record(f"charge:{order}", idempotency_key=f"charge-{order}")
    return f"charged {order}"


@function
async def reserve_stock(order: str) -> str:
    ledger().record(f"reserve:{order}", idempotency_key=f"reserve-{order}")
    return f"reserved {order}"


@function
async def release_stock(order: str) -> str:
    ledger().record(f"release:{order}", idempotency_key=f"release-{order}")
    return f"released {order}"


@function
async def refund_card(order: str) -> str:
    """Refunds the charge if there was one: a rejected charge may still have charged the card (it ran,
    and its process crashed before the settle; the retry then failed)."""
    if ledger().count(f"charge:{order}"):
        ledger().record(f"refund:{order}", idempotency_key=f"refund-{order}")
    return f"refunded {order}"


@function
async def saga(ctx: Context, order: str) -> str:
    """A saga whose charge is never retried (``retry=Never()``): an injected failure rejects the charge,
    and the saga compensates: "completed" or "refunded" are both correct outcomes."""
    await ctx.run(reserve_stock, order)
    try:
        await ctx.run(charge_card, order)
    except Rejected:
        await ctx.run(refund_card, order)
        await ctx.run(release_stock, order)
        return "refunded"
    return "completed"


def saga_is_consistent(result: Any) -> list[str]:
    """Completed: charged, not refunded, not released; refunded: released, and every charge refunded."""
    counts = result.ledger.counts()
    out = [f"{key} recorded {n} times" for key, n in counts.items() if n > 1]
    if result.settled and result.root.state.value == "resolved":
        outcome = json.loads(result.root.value)
        charged, refunded = counts.get("charge:o-1", 0), counts.get("refund:o-1", 0)
        released = counts.get("release:o-1", 0)
        if not ((outcome == "completed" and (charged, refunded, released) == (1, 0, 0))
                or (outcome == "refunded" and charged == refunded and released == 1)):
            out.append(f"{outcome} with {charged} charge(s), {refunded} refund(s) and {released} release(s)")
    return out


class Opaque:
    """A value the codec cannot store; its default repr holds a memory address."""


@function
async def returns_opaque() -> Any:
    return Opaque()


@function
async def reports_error(ctx: Context) -> str:
    """Its value quotes a child's error, whose message quotes ``repr()`` of an object."""
    try:
        await ctx.run(returns_opaque)
    except Rejected as exc:
        return exc.message
    return "stored"


CORRECT = {
    "recorded-random-and-now": Scenario(lucky_draw, (), functions=(quote,), root_id="draw"),
    "child-timeout": Scenario(with_deadline, (), functions=(slow,), root_id="deadline"),
    "never-retried-saga": Scenario(saga, ("o-1",), functions=(reserve_stock, charge_card, refund_card, release_stock),
                                   root_id="saga", invariants=(saga_is_consistent,)),
    "error-quoting-a-repr": Scenario(reports_error, (), functions=(returns_opaque,), root_id="report"),
}


@pytest.mark.durable(seeds=1000, faults="all")
@pytest.mark.parametrize("name", list(CORRECT))
def test_a_correct_workflow_passes_1000_worlds_with_every_fault(durable_sim: Any, name: str) -> None:
    scenario = CORRECT[name]
    run = durable_sim.run(scenario.workflow, *scenario.args, id=scenario.root_id, functions=scenario.functions)
    assert run.settled
    for line in (inv(run) for inv in scenario.invariants):
        assert not list(line)


@pytest.mark.durable
@pytest.mark.parametrize("name", list(CORRECT))
def test_a_correct_workflow_passes_the_plugins_default_run(durable_sim: Any, name: str) -> None:
    scenario = CORRECT[name]
    run = durable_sim.run(scenario.workflow, *scenario.args, id=scenario.root_id, functions=scenario.functions)
    assert run.settled


def test_faults_do_change_those_outcomes() -> None:
    """The sweeps above would prove little if the faults never changed an outcome: they do."""
    outcomes: dict[str, set[str]] = {name: set() for name in CORRECT}
    for name, scenario in CORRECT.items():
        for seed in range(300):
            result = run_world(scenario, seed=seed, faults="all")
            assert result.ok, (name, seed, [str(v) for v in result.violations])
            outcomes[name].add(result.root.value if result.root is not None else "")
    assert len(outcomes["recorded-random-and-now"]) > 100
    assert {json.loads(v) for v in outcomes["child-timeout"]} >= {"ok 7", "timed out"}
    assert {json.loads(v) for v in outcomes["never-retried-saga"]} == {"completed", "refunded"}
    (message,) = outcomes["error-quoting-a-repr"]
    assert " at 0x" not in message and "Opaque object>)" in message


def test_an_error_quoting_a_repr_is_recorded_the_same_in_every_run() -> None:
    """The same world run twice gives the same trace: no memory address reaches the store."""
    scenario = CORRECT["error-quoting-a-repr"]
    first, again = (run_world(scenario, seed=5, faults="crash,drop") for _ in range(2))
    assert first.trace_hash == again.trace_hash
    assert first.root is not None and first.root.value == again.root.value  # type: ignore[union-attr]


# -- replays that contradict the record: (3) and (4) name the culprit -----------------------------------

_EXECUTIONS: dict[str, int] = {}


@function
async def doubled(item: int) -> int:
    return item * 2


@function
async def fewer_on_replay(ctx: Context) -> int:
    """BUG: counts its executions in module state and, from the second one on, skips two calls: a replay
    makes fewer calls than were recorded, and those promises are orphans."""
    _EXECUTIONS[ctx.id] = _EXECUTIONS.get(ctx.id, 0) + 1
    first = await ctx.run(doubled, 1)
    if _EXECUTIONS[ctx.id] == 1:
        await ctx.run(doubled, 2)
        await ctx.rpc(doubled, 3)  # suspends: the workflow runs again when the child settles
    return first


@function
async def same_on_replay(ctx: Context) -> int:
    """The correct twin: the same calls on every execution."""
    first = await ctx.run(doubled, 1)
    await ctx.run(doubled, 2)
    await ctx.rpc(doubled, 3)
    return first


def test_a_replay_that_makes_fewer_calls_than_recorded_is_caught_and_named() -> None:
    """Each process incarnation has its own module state, so the bug shows when the incarnation that ran
    the first execution also resumes the workflow; the SDK then refuses to end it (nondeterminism)."""
    scenario = Scenario(fewer_on_replay, (), functions=(doubled,), root_id="few")
    for seed in range(300):
        result = run_world(scenario, seed=seed, faults="crash,drop,reject")
        if not result.ok:
            break
    else:
        pytest.fail("no world in 300 found the orphans")
    first = result.violations[0]
    assert (first.check, first.number, first.id) == ("nondeterminism", 9, "few")
    assert ("nondeterminism at child few.1: the store recorded doubled(2) but the replay called nothing (it ended "
            "after 1 call(s); 2 recorded child(ren) of few were never asked for)") in first.message


def test_the_oracle_names_orphans_a_fresh_replay_would_leave() -> None:
    """The replay oracle finds the same class in the record itself: a resolved workflow whose replay asks
    for fewer children than the store holds under it."""
    scenario = Scenario(same_on_replay, (), functions=(doubled,), root_id="same")
    world = run_world(scenario, seed=0)
    import attrs

    extra = attrs.evolve(world.promises[1], id="same.9")
    (violation,) = check([*world.promises, extra], scenario)
    assert (violation.check, violation.number, violation.id) == ("replay-children", 3, "same.9")
    assert violation.message.startswith("same same_on_replay() resolved, but replaying it over the store's records "
                                        "never asks for same.9 (resolved): a replay made fewer calls than an earlier "
                                        "execution")


def test_the_twin_that_makes_the_same_calls_passes() -> None:
    scenario = Scenario(same_on_replay, (), functions=(doubled,), root_id="same")
    for seed in range(300):
        result = run_world(scenario, seed=seed, faults="crash,drop,reject")
        assert result.ok, (seed, [str(v) for v in result.violations])


def test_the_oracle_judges_a_store_record_directly() -> None:
    """A record whose root value no replay gives (the root says 3, its only child says 2) is named."""
    scenario = Scenario(same_on_replay, (), functions=(doubled,), root_id="same")
    world = run_world(scenario, seed=0)
    assert world.ok
    import attrs

    tampered = [attrs.evolve(p, value="3") if p.id == "same" else p for p in world.promises]
    (violation,) = check(tampered, scenario)
    assert (violation.check, violation.id) == ("replay-value", "same")
    assert violation.message == ("same same_on_replay() resolved 3, but replaying it over the store's records gives "
                                 "resolved 2: its value depends on something outside ctx")


# -- item 5: saved settings and a budget that grows with the work ---------------------------------------


@function
async def tiny(item: int) -> int:
    return item


@function
async def wide(ctx: Context, n: int) -> int:
    handles = [await ctx.run(tiny, i).spawn() for i in range(n)]
    return sum([await h for h in handles])


def test_the_liveness_budget_grows_with_the_work() -> None:
    """2,000 children take ~37 virtual seconds to fan out; a 5 s budget still passes, because each
    promise adds to it, and fails when it does not."""
    scenario = Scenario(wide, (2000,), functions=(tiny,), root_id="wide", workers={"default": 1})
    faults = FaultConfig.parse("none", quiesce_after=0.0)
    grows = run_world(scenario, seed=1, faults=faults, config=SimConfig(budget=5.0))
    assert grows.ok, [str(v) for v in grows.violations]
    assert grows.virtual_time > 5.0
    fixed = run_world(scenario, seed=1, faults=faults, config=SimConfig(budget=5.0, budget_per_promise=0.0))
    assert [v.check for v in fixed.violations] == ["liveness"]
    assert "did not settle within 5 s" in fixed.violations[0].message


def sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_a_world_saved_with_its_own_quiesce_and_budget_replays_as_a_match(tmp_path: Path) -> None:
    saved = tmp_path / "world.json"
    shown = sim("run", "examples/fan_out_fan_in.py:scenario", "--seed", "4", "--faults", "crash=0.2,drop=0.2",
                "--quiesce-after", "3", "--budget", "50", "--out", str(saved))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    data = json.loads(saved.read_text())
    assert (data["quiesce_after"], data["budget"]) == (3.0, 50.0)
    replayed = sim("replay", str(saved))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout.startswith("match: trace ")


def test_bad_budget_is_one_clear_error() -> None:
    bad = sim("run", "examples/fan_out_fan_in.py:scenario", "--budget", "-1")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "python -m sim run: --budget must be a number of seconds >= 0"


# -- item 20: checks read structured fields, not wording ------------------------------------------------


def test_check_2_reads_the_settled_state_not_the_words_of_the_detail() -> None:
    from sim import Trace
    from sim.checks.rerun import no_rerun_after_resolve

    reworded = Trace()
    reworded.add(1.0, "w1", 1, "settled", "job.0", "now final (value abc)", state="resolved")
    reworded.add(2.0, "w1", 1, "body", "job.0", "square")
    (violation,) = no_rerun_after_resolve(reworded)
    assert (violation.check, violation.id, violation.events) == ("no-rerun-after-resolve", "job.0", (0, 1))
    worded_only = Trace()
    worded_only.add(1.0, "w1", 1, "settled", "job.0", "resolved abc", state="rejected")
    worded_only.add(2.0, "w1", 1, "body", "job.0", "square")
    assert no_rerun_after_resolve(worded_only) == []


def test_structured_fields_survive_the_json_form() -> None:
    from sim import Trace

    trace = Trace()
    trace.add(1.0, "w1", 1, "settled", "job.0", "resolved abc", state="resolved")
    again = Trace.from_json(trace.to_json())
    assert again.events == trace.events and again.hash() == trace.hash()
    assert again.events[0].get("state") == "resolved"
