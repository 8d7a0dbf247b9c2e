"""A failing world names its bug class where the checks can tell (``sim.reports.diagnosis``): an effect
made twice across a crash, a nondeterministic body, a swallowed platform signal; and says nothing where
they cannot."""

from __future__ import annotations

from pathlib import Path

from sim import run_world
from sim.kernel.decisions import PinnedDecisions
from sim.reports import render
from sim.reports.diagnosis import diagnosis
from sim.scenario import load_scenario
from tests.helpers import fidelity_scenarios as fs
from tests.helpers import signal_workflows as sw

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _aimed(target: str, point: str):  # type: ignore[no-untyped-def]
    return run_world(load_scenario(f"{EXAMPLES / target}"), faults="crash,drop,reject", plan=point,
                     decisions=PinnedDecisions({}))


def test_an_effect_made_again_after_a_crash_is_not_idempotent_across_that_crash() -> None:
    result = _aimed("transfer_bug.py:buggy", "at(crash, await pay.0)")
    assert diagnosis(result) == ("not idempotent across a crash at await pay.0: debit:tx-7 made on w1#1 before it "
                                 "crashed, and again on w2#1")
    assert render.summary(result).splitlines()[1] == f"  bug: {diagnosis(result)}"


def test_a_body_that_reads_outside_ctx_is_a_nondeterministic_workflow_body() -> None:
    failing = next(r for seed in range(50) if not (r := run_world(fs.wallclock_quote(), seed=seed, faults="crash")).ok)
    assert diagnosis(failing).startswith("nondeterministic workflow body: a replay contradicts what the store recorded")


def test_a_swallowed_signal_is_named() -> None:
    result = run_world(sw.scenario(sw.greedy_rpc), faults="none")
    assert diagnosis(result).startswith("a platform signal swallowed")


def test_a_passing_world_or_one_the_checks_cannot_explain_names_nothing() -> None:
    assert diagnosis(_aimed("transfer_bug.py:fixed", "at(crash, await pay.0)")) == ""
    late = _aimed("reminder_bug.py:buggy", "at(crash, during heartbeat remind, 12)")
    assert not late.ok and diagnosis(late) == ""  # a late reminder: one effect, made once
