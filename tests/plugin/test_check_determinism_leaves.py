"""The done-when of leaf randomness, through both faces: ``sim run --check-determinism`` and the plugin's
``--durable-check-determinism`` pass a workflow whose leaves draw ``uuid4()`` and ``random``, and fail one
whose body does, naming the nondeterminism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

WORKFLOWS = '''
import random
import uuid

from pytest_durable import Context, function


@function
async def new_message_id(topic: str) -> str:
    return f"{topic}-{uuid.uuid4()}-{random.randint(0, 9999)}"


@function
async def send(message_id: str) -> str:
    return message_id


@function
async def ids_in_leaves(ctx: Context, n: int) -> list[str]:
    return [await ctx.run(send, await ctx.run(new_message_id, f"t{i}")) for i in range(n)]


@function
async def ids_in_body(ctx: Context, n: int) -> list[str]:
    return [await ctx.run(send, f"t{i}-{uuid.uuid4()}-{random.randint(0, 9999)}") for i in range(n)]  # BUG
'''

TESTS = '''
import pytest
from workflows import ids_in_body, ids_in_leaves


@pytest.mark.durable(seeds=5, faults="crash,drop,duplicate")
def test_leaves(durable_sim):
    assert len(durable_sim.run(ids_in_leaves, 3, id="ids").value) == 3


@pytest.mark.durable(seeds=5, faults="crash,drop,duplicate")
def test_body(durable_sim):
    durable_sim.run(ids_in_body, 3, id="ids")
'''


def _sim_run(target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "sim", "run", target, "--seeds", "10", "--faults",
                           "crash,drop,duplicate", "--check-determinism"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_sim_run_check_determinism_passes_leaves_that_draw_and_fails_a_body_that_does(tmp_path: Path) -> None:
    (tmp_path / "workflows.py").write_text(WORKFLOWS + '''
from sim import Scenario

leaves = Scenario(ids_in_leaves, (3,), functions=(new_message_id, send), root_id="ids")
body = Scenario(ids_in_body, (3,), functions=(send,), root_id="ids")
''')
    passed = _sim_run("workflows:leaves", tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "violations: none" in passed.stdout and "failing: 0" in passed.stdout
    failed = _sim_run("workflows:body", tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    violations = next(line for line in failed.stdout.splitlines() if line.startswith("violations: "))
    counts = dict(part.rsplit(" ", 1) for part in violations.removeprefix("violations: ").split(", "))
    assert "nondeterminism" in counts and "determinism" not in counts, violations  # the replay, not two runs
    assert "calls child ids.0 as send('t0-" in failed.stdout


def test_the_plugin_check_determinism_passes_leaves_that_draw_and_fails_a_body_that_does(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(workflows=WORKFLOWS, test_ids=TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("--durable-seed=1", "--durable-check-determinism", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*(9) nondeterminism: replaying ids ids_in_body(3) over the store's records calls "
                                 "child ids.0 as send('t0-*"])
    result.stdout.fnmatch_lines(["FAILED test_ids.py::test_body*"])
    assert "(7) determinism" not in result.stdout.str()


def test_worlds_drawn_by_hypothesis_with_leaves_that_draw_pass_the_determinism_check(
        pytester: pytest.Pytester) -> None:
    """The entropy draw is one more choice of a drawn world: replayed pinned, it gives the same values."""
    pytester.makepyfile(workflows=WORKFLOWS, test_drawn='''
        from hypothesis import given, settings
        from pytest_durable.testing.strategies import worlds
        from workflows import ids_in_leaves

        @settings(max_examples=8, deadline=None, derandomize=True, database=None)
        @given(world=worlds("crash,drop"))
        def test_leaves(durable_sim, world):
            assert len(durable_sim.run(ids_in_leaves, 2, id="ids", world=world).value) == 2
    ''')
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--durable-check-determinism")
    result.assert_outcomes(passed=1)
