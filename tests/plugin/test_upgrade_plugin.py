"""Upgrade worlds through the plugin's default run (the aimed sweep, then 20 swarm worlds), driven through
``pytester``: ``durable_sim.run(upgrade=sim.Upgrade(...))`` fails a version 2 of the order workflow that
reorders its children, with a report naming both versions, and passes the one guarded by ``ctx.patched``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

TESTS = '''
import pytest
import sim
from examples.deploy import orders_v1
from examples.deploy.upgrade_worlds import EXPECTED


def deploy(durable_sim, version):
    return durable_sim.run(
        orders_v1.fulfil, "order-1", 2, id="order-1", workers=3, expected=EXPECTED,
        actors=[sim.actors.start("order-2", orders_v1.fulfil, ("order-2", 2), at=(4.5, 6.0))],
        upgrade=sim.Upgrade(to=f"examples.deploy.{version}", at=(0.0, 2.0)),
    )


@pytest.mark.durable
def test_reordered(durable_sim):
    deploy(durable_sim, "orders_v2_reordered")


@pytest.mark.durable
def test_patched(durable_sim):
    run = deploy(durable_sim, "orders_v2_patched")
    assert run.value == EXPECTED
'''


def test_the_default_run_fails_a_reordering_deploy_and_passes_a_patched_one(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(ROOT)
    pytester.makepyfile(test_deploys=TESTS)
    result = pytester.runpytest("-p", "pytest_durable", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    failed = dict(re.findall(r"^_+ (test_\w+) _+$(.*?)(?=^_+ test_|^=+ short test summary)", out, re.M | re.S))
    assert sorted(failed) == ["test_reordered"]
    report = failed["test_reordered"]
    assert "the store recorded reserve('order-1', 0) but the replay called charge('order-1', 20)" in report
    assert "v1 (examples.deploy.orders_v1) ran order-1 on w" in report
    assert "v2 (examples.deploy.orders_v2_reordered) replayed it on w" in report
    assert "INTERNALERROR" not in out
