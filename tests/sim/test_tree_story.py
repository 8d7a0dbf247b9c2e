"""The execution tree tells a world's story (issue 10, item 2): beside each promise, every run of its
body with the process incarnation that ran it, the retries of a failing leaf, the ledger effects under
the promise (and the run) that made them, and where a crash cut a body short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytest_durable import Context, function
from pytest_durable.core.tree import tree
from sim import RunResult, Scenario, ledger, run_world
from sim.reports import render, story
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@function
async def flaky(n: int) -> int:
    ledger().record(f"try:{n}")
    if ledger().count(f"try:{n}") == 1:
        raise RuntimeError("the first attempt fails")
    return n


@function
async def charge(n: int) -> str:
    ledger().record(f"charge:{n}")
    return "charged"


@function
async def job(ctx: Context, n: int) -> list[object]:
    tried = await ctx.run(flaky, n)
    charged = await ctx.run(charge, n)
    return [tried, charged]


def scenario() -> Scenario:
    return Scenario(job, (3,), functions=(flaky, charge), root_id="job")


def crashed_world() -> RunResult:
    """w2 runs the job; flaky fails its first attempt and is retried; w2 then crashes after charge's
    body ran, before its settle, so the job runs again once its lease is out (on w2's next incarnation,
    which the draw put ahead of w1 among the idle workers) and charges a second time."""
    return run_world(scenario(), seed=0, faults="none", plan="crash(w2, before_settle, job.1)")


def block(lines: list[str], head: str) -> list[str]:
    """The line of promise ``head`` and the note lines under it (up to the next promise line)."""
    start = next(i for i, line in enumerate(lines) if line.lstrip("│├└─ ").startswith(f"{head}  "))
    out = [lines[start]]
    for line in lines[start + 1:]:
        if "── " in line or not line.strip("│ "):
            break
        out.append(line)
    return out


def test_the_tree_names_each_run_its_incarnation_and_where_a_crash_cut_it() -> None:
    result = crashed_world()
    assert result.fault_counts == {"crash": 1} and result.value == [3, "charged"]
    lines = render.world_tree(result).splitlines()
    assert block(lines, "job") == [
        "job  job(3)  resolved → [3,\"charged\"]",
        "│   run 1 on w2#1 at 0.064 s: ✗ cut: w2#1 crashed (before settle job.1)",
        "│   run 2 on w2#2 at 10.080 s: settled resolved",
    ]


def test_the_tree_shows_a_retried_leaf_attempt_by_attempt() -> None:
    lines = render.world_tree(crashed_world()).splitlines()
    flaky_block = block(lines, "job.0")
    assert flaky_block[1:] == [
        "│   │   attempt 1 on w2#1 at 0.078 s: ledger try:3; ✗ failed, retried",
        "│   │   attempt 2 on w2#1 at 1.081 s: ledger try:3; settled resolved",
    ]
    attempt = block(lines, "job.0.0")[0]
    assert "durable.attempt(1)  rejected" in attempt and "the first attempt fails" in attempt


def test_each_ledger_effect_sits_under_the_promise_and_incarnation_that_made_it() -> None:
    result = crashed_world()
    lines = render.world_tree(result).splitlines()
    assert block(lines, "job.1")[1:] == [
        "        attempt 1 on w2#1 at 1.113 s: ledger charge:3; ✗ cut: w2#1 crashed (before settle job.1)",
        "        attempt 2 on w2#2 at 10.080 s: ledger charge:3; settled resolved",
    ]
    # The tree agrees with the ledger: two charges, made by job.1, one on each incarnation.
    assert [(e.by, e.process) for e in result.ledger.made("charge:3")] == [("job.1", "w2#1"), ("job.1", "w2#2")]
    assert not any("charge:3" in line for line in block(lines, "job") + block(lines, "job.0"))


def test_a_body_that_ran_once_without_effects_just_names_its_incarnation() -> None:
    result = run_world(Scenario(job, (3,), functions=(flaky, charge), root_id="job"), seed=0, faults="none")
    lines = render.world_tree(result).splitlines()
    assert lines[0] == "job  job(3)  resolved → [3,\"charged\"]  [w2#1]"
    assert len(block(lines, "job.0")) == 3  # flaky still failed once: both attempts are listed


def test_the_core_tree_without_notes_is_unchanged() -> None:
    """The live CLI calls ``core.tree`` with no notes: one line per promise, as before."""
    result = crashed_world()
    plain = tree(result.promises).splitlines()
    assert len(plain) == len(result.promises)
    assert not any("attempt 1 on" in line or "[w" in line for line in plain)


def test_sim_run_shows_the_story_of_the_retry_bug() -> None:
    """``python -m sim run … --seed N`` prints the tree with the story: both charges, each under the
    attempt of ``checkout.1`` that made it, the first cut by the crash."""
    shown = subprocess.run(
        [sys.executable, "-m", "sim", "run", "examples/retry_bug.py:buggy", "--seed", "3",
         "--plan", "crash(w1, before_settle, checkout.1)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 1, shown.stderr
    lines = block(shown.stdout.splitlines(), "checkout.1")
    assert len(lines) == 3, shown.stdout
    assert lines[1].endswith("attempt 1 on w1#1 at 0.098 s: ledger charge:order-42; "
                             "✗ cut: w1#1 crashed (before settle checkout.1)")
    assert "attempt 2 on w2#1" in lines[2] and "ledger charge:order-42; settled resolved" in lines[2]


def test_a_rejected_attempt_is_told_apart_from_a_failed_body() -> None:
    """An injected rejection strikes before the body runs; the tree says so, and the retry after it."""
    result = run_world(load_scenario(f"{ROOT}/examples/fan_out_fan_in.py:scenario"), seed=34,
                       faults="crash=0.2,drop,reject=0.3")
    lines = render.world_tree(result).splitlines()
    assert block(lines, "fan-out-fan-in.0")[1:] == [
        "│   │   attempt 1 on w2#1 at 1.104 s: ✗ injected failure (the body did not run), retried",
        "│   │   attempt 2 on w1#1 at 25.082 s: settled resolved",
    ]


def test_the_story_of_every_world_of_a_sweep_agrees_with_its_trace_and_ledger() -> None:
    """Over many faulty worlds: one run per body event, at most one run per promise settles it (and
    only a settled promise), and each ledger entry is told under exactly one run."""
    scenario = load_scenario(f"{ROOT}/examples/fan_out_fan_in.py:scenario")
    checked = 0
    for seed in range(40):
        result = run_world(scenario, seed=seed, faults="crash=0.2,drop,reject=0.3")
        told = story.runs(result)
        bodies: dict[str, int] = {}
        for event in result.trace.of_kind("body"):
            bodies[event.id] = bodies.get(event.id, 0) + 1
        assert {p: len([r for r in rs if r.number]) for p, rs in told.items()} == bodies, seed
        states = {r.id: r for r in result.promises}
        for promise, promise_runs in told.items():
            settling = [r for r in promise_runs if r.end.startswith("settled")]
            assert len(settling) <= 1, (seed, promise, promise_runs)
            assert not settling or states[promise].settled, (seed, promise)
        assert sum(len(r.effects) for rs in told.values() for r in rs) == len(result.ledger.entries), seed
        checked += sum(len(rs) > 1 for rs in told.values())
    assert checked > 10  # the sweep did re-run bodies


def test_a_run_its_own_incarnation_took_over_is_not_called_a_failure() -> None:
    """A run that stopped without failing (its task's lease ran out while the server was away) and ran
    again on the same incarnation was overtaken, not retried: nothing says it failed. A body's retried
    failure is recorded first (an injected rejection, or the attempt's record), and a workflow is
    never retried, so a workflow run never ends as a failure."""
    same = 0
    for seed in range(60):
        result = run_world(scenario(), seed=seed, faults="all")
        for promise, promise_runs in story.runs(result).items():
            for run in promise_runs:
                assert not (run.workflow and run.end.startswith("✗ failed")), (seed, promise, run)
                same += run.end == f"✗ overtaken: ran again on {run.process}"
    assert same > 0  # the sweep did have a task taken over by the incarnation that held it
