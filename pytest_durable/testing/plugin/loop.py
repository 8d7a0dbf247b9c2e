"""A test's worlds: a ``durable`` test's body runs once per world, each with a seed derived from the
test's and the world's index, until the first failing world; a test without the marker that used
``durable_sim`` ran one world, and is warned that it did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim.kernel.interrupts import keep_interrupts

from ..harness import UnmarkedDurableSimWarning, WorldSettings
from ..progress import TestProgress, for_item
from .hash_seed import check_hash_seed
from .options import flag, number, progress_after, setting, store_kind, worlds_of
from .state import STATE, TEST, TestState, derive


def settings_for(item: pytest.Item) -> Callable[[int], WorldSettings]:
    """The settings of the test's worlds (marker > command line > environment > ini), given a world's seed."""
    config = item.config
    marker = item.get_closest_marker("durable")
    faults = setting(config, "faults", marker)
    workers = number(config, "workers", int, marker, minimum=1)
    quiesce = number(config, "quiesce_after", float, marker)
    budget = number(config, "budget", float, marker)
    plan = str(marker.kwargs.get("plan", "")) if marker is not None else ""
    determinism = flag(config, "check_determinism")
    store = store_kind(config, marker)
    outcomes = marker.kwargs.get("outcomes") if marker is not None else None

    def settings(seed: int) -> WorldSettings:
        return WorldSettings(seed=seed, faults=faults, plan=plan, workers=workers, quiesce_after=quiesce, budget=budget,
                             check_determinism=determinism, store=store, outcomes=outcomes)

    return settings


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    test = TestState(item, derive(state.seed, item.nodeid), settings_for(item))
    item.stash[TEST] = test
    state.current = test


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A ``durable`` test runs its body once per world; the first failing world stops it."""
    marker = pyfuncitem.get_closest_marker("durable")
    if marker is None:
        return None
    __tracebackhide__ = True
    seeds = worlds_of(pyfuncitem.config, marker)
    test = pyfuncitem.stash[TEST]
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    progress = _progress_for(pyfuncitem, seeds)
    try:
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            for index in range(seeds):
                test.index = index
                pyfuncitem.obj(**args)
                if progress is not None and progress.due():
                    progress.show(index + 1, sum(not r.ok for r in test.sim.results) if test.sim is not None else 0)
    finally:
        if progress is not None:
            progress.close()
    if flag(pyfuncitem.config, "check_hash_seed"):
        check_hash_seed(test)
    return True


def _progress_for(item: pytest.Item, seeds: int) -> TestProgress | None:
    after = progress_after(item.config)
    return None if after is None else for_item(item, seeds, after)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a test that passed: warn if it used ``durable_sim`` without the marker (in the call, so
    ``-W error::...UnmarkedDurableSimWarning`` fails the test)."""
    __tracebackhide__ = True
    result = yield
    test = item.stash.get(TEST, None)
    if test is not None:
        _warn_unmarked(item, test)
    return result


def _warn_unmarked(item: pytest.Item, test: TestState) -> None:
    """Say how many worlds a test without the marker ran, and why only one seed."""
    runs = test.sim.seeded_runs if test.sim is not None else 0
    if not runs or item.get_closest_marker("durable") is not None:
        return
    calls = f" ({runs} durable_sim.run calls, all in it)" if runs > 1 else ""
    item.warn(UnmarkedDurableSimWarning(
        f"{item.name} has no @pytest.mark.durable, so durable_sim ran 1 world (world seed {test.world_settings().seed})"
        f"{calls}; mark it @pytest.mark.durable to run {worlds_of(item.config, None)} worlds (--durable-seeds), "
        "one per seed"))
