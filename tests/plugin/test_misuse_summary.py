"""The plugin shows each misuse warning once in pytest's warnings summary, over all of a test's worlds, and
the test's verdict is what it was without it."""

from __future__ import annotations

import pytest

from pytest_durable.core import misuse

pytest_plugins = ["pytester"]

WORKFLOWS = '''
import time

from pytest_durable import Context, function


@function
async def nap(n: int) -> int:
    time.sleep(3)  # BUG: blocks the event loop
    return n


@function
async def send(n: int) -> int:
    return n


@function
async def naps_and_forgets(ctx: Context, n: int) -> list[int]:
    ctx.run(send, -1)  # BUG: never awaited
    return [await ctx.run(nap, i) for i in range(n)]
'''

TESTS = '''
import pytest
from workflows import naps_and_forgets


@pytest.mark.durable(seeds=10, faults="crash,drop")
def test_naps(durable_sim):
    assert durable_sim.run(naps_and_forgets, 2, id="job").value == [0, 1]
'''


def test_each_misuse_is_one_warning_in_the_summary_and_the_test_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(workflows=WORKFLOWS, test_naps=TESTS)
    pytester.syspathinsert()
    misuse.forget()  # pytester runs in this process: a warning said by an earlier test would not be said again
    result = pytester.runpytest("--durable-seed=1", "-p", "no:cacheprovider")
    misuse.forget()
    result.assert_outcomes(passed=1, warnings=2)
    out = result.stdout.str()
    assert out.count("BlockingCallWarning: durable: nap called time.sleep(3) in a simulated world") == 1, out
    assert out.count("UnawaitedCallWarning: durable: ctx.run(send, ...) in workflow naps_and_forgets") == 1, out
