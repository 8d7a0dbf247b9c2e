"""Misuse said, not swallowed: a synchronous ``time.sleep`` in a body, a long CPU step and a durable call
never awaited are each one warning naming the function, over however many worlds, and change no verdict
and no trace."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_durable import BlockingCallWarning, MisuseWarning, UnawaitedCallWarning
from pytest_durable.core import misuse
from sim import RunResult, SimConfig, run_world
from tests.helpers.misuse_workflows import forgets_scenario, napping_scenario, spinning_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _said_afresh() -> Iterator[None]:
    misuse.forget()
    yield
    misuse.forget()


def _worlds(scenario_of: object, seeds: range, **kwargs: object) -> tuple[list[RunResult], list[str]]:
    """The worlds, and the misuse warnings said over them (not what the garbage collector happens to say
    meanwhile of other tests' leftovers, such as a ``ResourceWarning`` for a subprocess)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [run_world(scenario_of(), seed=s, **kwargs) for s in seeds]  # type: ignore[operator, arg-type]
    return results, [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, MisuseWarning)]


def test_a_synchronous_sleep_is_one_warning_naming_the_function_and_is_skipped() -> None:
    results, said = _worlds(napping_scenario, range(12), faults="crash,drop")
    assert all(r.ok for r in results), [r.violations for r in results if not r.ok]
    assert len(said) == 1, said
    assert said[0].startswith("BlockingCallWarning: durable: nap called time.sleep(5) in a simulated world")
    assert "await trio.sleep(" in said[0] and "ctx.sleep(" in said[0]


def test_the_warning_changes_no_verdict_and_no_trace() -> None:
    """Made an error (``-W error``), the warning still cannot fail a world: it is said after the world."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = run_world(napping_scenario(), seed=4, faults="crash,drop")
    misuse.forget()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockingCallWarning)
        with pytest.raises(BlockingCallWarning):
            run_world(napping_scenario(), seed=4, faults="crash,drop")
    misuse.forget()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run_world(napping_scenario(), seed=4, faults="crash,drop")
    assert again.trace_hash == plain.trace_hash and again.ok and plain.ok


def test_a_long_cpu_step_is_one_warning_naming_the_function_and_no_verdict() -> None:
    config = SimConfig(slow_step=0.02)
    results, said = _worlds(spinning_scenario, range(3), faults="none", config=config)
    assert all(r.ok for r in results)
    assert len(said) == 1, said
    assert said[0].startswith("BlockingCallWarning: durable: one step of spin ran ")
    assert "without an await (over 0.02 s)" in said[0]
    quiet, none_said = _worlds(spinning_scenario, range(1), faults="none", config=SimConfig(slow_step=0))
    assert none_said == [] and quiet[0].trace_hash == results[0].trace_hash


def test_a_durable_call_never_awaited_is_one_warning_naming_it_and_its_workflow() -> None:
    results, said = _worlds(forgets_scenario, range(15), faults="crash,drop,duplicate")
    assert all(r.ok for r in results), [r.violations for r in results if not r.ok]
    assert said == ["UnawaitedCallWarning: durable: ctx.run(send, ...) in workflow forgets was built but never "
                    "awaited, so it never ran; write `await ctx.run(send, ...)`, or `await ctx.run(send, ...).spawn()` "
                    "to run it beside the body"]


def test_an_unawaited_call_made_an_error_fails_no_world() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = run_world(forgets_scenario(), seed=2, faults="crash")
    misuse.forget()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnawaitedCallWarning)
        with pytest.raises(UnawaitedCallWarning, match=r"ctx.run\(send, ...\) in workflow forgets"):
            run_world(forgets_scenario(), seed=2, faults="crash")  # said after the world, which ran as before
    assert plain.ok


def test_a_correct_workflow_says_nothing() -> None:
    from tests.helpers.sim_scenarios import fan_out_scenario, remote_scenario

    _, said = _worlds(lambda: fan_out_scenario(3), range(5), faults="crash,drop")
    _, said_remote = _worlds(lambda: remote_scenario(2), range(5), faults="crash,drop")
    assert said == said_remote == []


def test_sim_run_prints_the_warning_once_as_one_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "sim", "run", "tests.helpers.misuse_workflows:napping_scenario",
                          "--seeds", "20", "--faults", "crash,drop"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if "warning:" in line]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("python -m sim run: warning: durable: nap called time.sleep(5) in a simulated world")
    assert "violations: none" in out.stdout
