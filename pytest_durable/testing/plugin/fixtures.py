"""The fixtures: ``durable_sim`` (runs workflows in the current test's worlds), ``ledger`` (the
outside effects of the world run last) and ``durable_seed`` (the test's seed). The first two are
session-scoped stand-ins that forward to the test running now, so they work under Hypothesis ``@given``."""

from __future__ import annotations

from typing import Any

import pytest

from ..harness import DurableSim
from .state import STATE, TEST, RunState, TestState


class _CurrentSim:
    """The ``durable_sim`` fixture: session-scoped, so it is safe under Hypothesis ``@given``; every
    call goes to the ``DurableSim`` of the test running now."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    def _sim(self) -> DurableSim:
        __tracebackhide__ = True
        if self._state.current is None:
            raise RuntimeError("durable_sim is used outside a running test")
        return self._state.current.durable_sim()

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        return getattr(self._sim(), name)


class _CurrentLedger:
    """The ``ledger`` fixture: the ledger of the world the current test ran last."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        test = self._state.current
        last = test.sim.last if test is not None and test.sim is not None else None
        if last is None:
            raise RuntimeError("ledger: no world has run in this test yet; call durable_sim.run(...) first")
        return getattr(last.ledger, name)


@pytest.fixture(scope="session")
def durable_sim(pytestconfig: pytest.Config) -> Any:
    """Runs durable workflows in simulated worlds: ``durable_sim.run(workflow, *args, id="job")``."""
    return _CurrentSim(pytestconfig.stash[STATE])


@pytest.fixture(scope="session")
def ledger(pytestconfig: pytest.Config) -> Any:
    """The crash-proof record of outside effects of the last world: ``ledger.assert_exactly_once("charge")``."""
    return _CurrentLedger(pytestconfig.stash[STATE])


@pytest.fixture
def durable_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed (derived from the run seed and the test's node id)."""
    test: TestState = request.node.stash[TEST]
    return test.test_seed
