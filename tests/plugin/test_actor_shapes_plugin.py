"""The plugin's default run (``@pytest.mark.durable`` with no arguments: the aimed sweep, then the swarm
worlds) over issue 23's shapes with outside parties (``tests/helpers/shape_workflows.py``), driven
through ``pytester``: ``durable_sim.run(actors=...)`` passes the correct workflows and fails each buggy
twin with a report naming the promise at fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

SHAPES = '''
import pytest
from tests.helpers import shape_workflows as s


def approved_or_not(run):
    problems = s.shipped_only_if_approved(run)
    assert not problems, problems[0]


@pytest.mark.durable
def test_approval(durable_sim, ledger):
    run = durable_sim.run(s.approve_order, s.ORDER, id="order-7", actors=[s.approver()],
                          outcomes=("shipped", "escalated"))
    approved_or_not(run)
    assert ledger.count("ship:7") <= 1


@pytest.mark.durable
def test_approval_buggy(durable_sim, ledger):
    run = durable_sim.run(s.approve_order_buggy, s.ORDER, id="order-7", actors=[s.approver()],
                          outcomes=("shipped", "escalated"))
    approved_or_not(run)


@pytest.mark.durable
def test_checkout(durable_sim, ledger):
    run = durable_sim.run(s.checkout, s.ORDER, id="checkout-7", actors=[s.webhook()], expected="paid")
    dispatch = next(p for p in run.promises if p.id == "checkout-7.1")
    assert dispatch.state.value == "resolved"  # the world waited for the detached dispatch
    ledger.assert_exactly_once("parcel:", expected=1)


@pytest.mark.durable
def test_checkout_buggy(durable_sim, ledger):
    durable_sim.run(s.checkout_buggy, s.ORDER, id="checkout-7", actors=[s.webhook()], expected="paid")
    ledger.assert_exactly_once("parcel:", expected=1)
'''


def test_the_default_run_passes_the_shapes_and_finds_their_buggy_twins(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(ROOT)
    pytester.makepyfile(test_shapes=SHAPES)
    result = pytester.runpytest("-p", "pytest_durable", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=2)
    out = result.stdout.str()
    failed = dict(re.findall(r"^_+ (test_\w+) _+$(.*?)(?=^_+ test_|^=+ short test summary)", out, re.M | re.S))
    assert sorted(failed) == ["test_approval_buggy", "test_checkout_buggy"]
    assert "order 7 shipped but its approval approval-7 is rejected_timedout" in failed["test_approval_buggy"]
    assert "not exactly once: parcel:7 x2" in failed["test_checkout_buggy"]
    assert "by checkout-7.1.1 on" in failed["test_checkout_buggy"]  # the detached dispatch's leaf
    assert "checkout-7.1  dispatch_buggy('7')  (detached)" in failed["test_checkout_buggy"]


BAD_ACTORS = '''
import pytest
from tests.helpers import shape_workflows as s


@pytest.mark.durable
def test_one_actor_not_in_a_list(durable_sim):
    durable_sim.run(s.approve_order, s.ORDER, id="order-7", actors=s.approver())
'''


def test_actors_that_are_not_a_list_are_one_line_naming_the_argument(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(ROOT)
    pytester.makepyfile(test_bad=BAD_ACTORS)
    result = pytester.runpytest("-p", "pytest_durable", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UsageError: durable_sim.run: actors= must be a list of sim.actors (resolve, "
                                 "reject, start), got Actor(kind='resolve', id='approval-7'*"])
    assert "INTERNALERROR" not in result.stdout.str()
